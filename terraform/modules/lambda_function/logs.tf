# The function's log group, created before the function so that Lambda never creates it without retention.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch encrypts log groups at rest by default; the functions log names and numbers, never image data
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (validated); one year by default would keep debug logs far longer than on-call needs
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}
