# Step Functions vended logs go to a group under /aws/vendedlogs/, whose resource policy size limit is shared
# by all vended-log groups instead of counting against the account's CloudWatch Logs resource policy.
resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_158:Execution logs carry no execution data (log_execution_data is off by default); CloudWatch's default encryption applies
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (validated), not a fixed year
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}
