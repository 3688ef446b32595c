output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the Lambda function (what Step Functions' lambda:invoke takes)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN for API Gateway integrations."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the function's execution role (attach more policies to it from outside if needed)."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_retention_days" {
  description = "Retention of the function's log group, in days."
  value       = aws_cloudwatch_log_group.this.retention_in_days
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "layers" {
  description = "Layer ARNs attached to the function (the Powertools layer, or none)."
  value       = aws_lambda_function.this.layers
}

output "environment" {
  description = "Environment variables the function receives (POWERTOOLS_* defaults merged with var.environment)."
  value       = aws_lambda_function.this.environment[0].variables
}

output "policy_json" {
  description = "The role's inline policy document (JSON)."
  value       = data.aws_iam_policy_document.this.json
}
