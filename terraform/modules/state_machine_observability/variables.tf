variable "policy_json" {
  description = "The state machine's own permissions, as the json of an aws_iam_policy_document. Sids DeliverExecutionLogs and SendTraces are reserved by the module."
  type        = string

  validation {
    # Unknown until apply when the document names ARNs of resources being created; checked then.
    condition = alltrue([
      for statement in try(jsondecode(var.policy_json).Statement, [{}]) :
      !contains(["DeliverExecutionLogs", "SendTraces"], try(statement.Sid, ""))
    ])
    error_message = "policy_json must not use the sids DeliverExecutionLogs or SendTraces: the module's own statements would replace them."
  }
}
