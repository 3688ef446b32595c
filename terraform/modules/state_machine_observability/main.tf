# What every state machine role needs besides its own work: deliver execution logs and send X-Ray traces.
# The caller's statements come first and the two below are appended, so the document reads as before the
# statements moved here.

data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.policy_json]

  statement {
    # Step Functions delivers logs through CloudWatch Logs' vended-log delivery API, whose actions accept no
    # resource-level permissions: "*" is the only resource they can be granted on.
    sid    = "DeliverExecutionLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    # X-Ray's trace and sampling actions support no resource-level permissions either.
    sid    = "SendTraces"
    effect = "Allow"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}
