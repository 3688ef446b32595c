# The state machine's role: invoke exactly the three workflow functions, send to the human-review queue,
# publish decisions on the stack's bus and count audit samples it could not queue;
# modules/state_machine_observability adds log delivery and X-Ray traces.

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

  statement {
    # Only the decision events, only on the stack's bus (events:source is a PutEvents condition key:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
    sid       = "PublishDecisions"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.decisions.arn]

    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = [local.decision_event_source]
    }
  }

  statement {
    # An audit sample that could not be queued is counted (AuditSampleNotQueued). PutMetricData has no resource
    # type, so "*" narrowed by the cloudwatch:namespace condition key
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
    sid       = "CountAuditSamplesNotQueued"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.name_prefix]
    }
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
}

# Log delivery and X-Ray: the same for every state machine, so they live in one module.
module "state_machine_observability" {
  source = "../state_machine_observability"

  policy_json = data.aws_iam_policy_document.state_machine.json
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${local.state_machine_name}-permissions"
  role   = aws_iam_role.state_machine.id
  policy = module.state_machine_observability.policy_json
}
