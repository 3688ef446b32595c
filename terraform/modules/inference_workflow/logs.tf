# Step Functions vended logs go to a group under /aws/vendedlogs/, whose resource policy size limit is shared
# by all vended-log groups instead of counting against the account's CloudWatch Logs resource policy.
resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}
