# The function's execution role: write its own logs, send X-Ray traces, plus whatever policy_json grants.

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  description        = "Execution role of the Lambda function ${var.function_name}."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  # Extra permissions come first; the module's own statements (sids starting with "Lambda") are added to them.
  # Merging into one document, rather than a second policy counted on policy_json != null, keeps the plan
  # valid when policy_json is only known after apply (it usually names ARNs of resources being created).
  source_policy_documents = var.policy_json == null ? [] : [var.policy_json]

  statement {
    sid    = "LambdaWriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions: "*" is the
    # only resource they accept. This is the only "*" the module adds (a caller's policy_json names its own).
    sid    = "LambdaSendTraces"
    effect = "Allow"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
