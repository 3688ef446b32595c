# The state machine's role: invoke exactly the three workflow functions, send to the human-review queue,
# deliver its execution logs and send X-Ray traces.

data "aws_iam_policy_document" "state_machine_assume_role" {
  statement {
    sid     = "StepFunctionsAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    # Only state machines of this account may use the role (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.state_machine_name}-sfn"
  description        = "Role of the ${local.state_machine_name} state machine."
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid     = "InvokeWorkflowFunctions"
    effect  = "Allow"
    actions = ["lambda:InvokeFunction"]
    # The unqualified ARNs (what the ASL names) and any version or alias of the same three functions.
    resources = flatten([
      for function in values(local.functions) : [function.function_arn, "${function.function_arn}:*"]
    ])
  }

  statement {
    sid       = "SendToHumanReview"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.human_review.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid    = "EncryptHumanReviewMessages"
      effect = "Allow"
      actions = [
        "kms:GenerateDataKey",
        "kms:Decrypt",
      ]
      resources = [statement.value]
    }
  }

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

resource "aws_iam_role_policy" "state_machine" {
  name   = "${local.state_machine_name}-permissions"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}
