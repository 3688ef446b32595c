# The merged policy as AWS will receive it. The module creates no resources, so the real provider renders the
# document offline (fake credentials, no account lookup, no metadata API); nothing here reaches AWS.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline-test"
  secret_key                  = "offline-test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = "true"
  skip_region_validation      = true
}

variables {
  policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"SendToHumanReview\",\"Effect\":\"Allow\",\"Action\":\"sqs:SendMessage\",\"Resource\":\"arn:aws:sqs:eu-west-1:123456789012:cv-human-review\"}]}"
}

run "caller_statements_first_then_logs_and_traces" {
  command = plan

  assert {
    condition     = [for statement in jsondecode(output.policy_json).Statement : statement.Sid] == ["SendToHumanReview", "DeliverExecutionLogs", "SendTraces"]
    error_message = "The caller's statements must be kept, in front of the two the module adds; the policy is ${output.policy_json}"
  }

  assert {
    condition     = jsondecode(output.policy_json).Statement[0] == jsondecode(var.policy_json).Statement[0]
    error_message = "The caller's statement must reach the policy unchanged."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(output.policy_json).Statement :
      alltrue([for action in flatten([statement.Action]) : startswith(action, "logs:") || startswith(action, "xray:")])
      if statement.Resource == "*"
    ])
    error_message = "Only the log-delivery and X-Ray actions, which support no resource-level permissions, may be granted on \"*\"."
  }

  assert {
    condition = toset(flatten([for statement in jsondecode(output.policy_json).Statement : statement.Action if statement.Sid == "DeliverExecutionLogs"])) == toset([
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ])
    error_message = "Step Functions needs exactly the vended-log delivery actions to deliver execution logs."
  }
}

run "reserved_sids_are_rejected" {
  command = plan

  variables {
    policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"SendTraces\",\"Effect\":\"Allow\",\"Action\":\"xray:GetTraceSummaries\",\"Resource\":\"*\"}]}"
  }

  expect_failures = [var.policy_json]
}
