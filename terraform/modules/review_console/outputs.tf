output "console_url" {
  description = "The review console (open it in a browser and log in as a reviewer)."
  value       = aws_lambda_function_url.console.function_url
}

output "user_pool_id" {
  description = "Cognito user pool of the reviewers (add one with aws cognito-idp admin-create-user, see README)."
  value       = aws_cognito_user_pool.reviewers.id
}

output "user_pool_client_id" {
  description = "App client the page logs in with (USER_PASSWORD_AUTH)."
  value       = aws_cognito_user_pool_client.console.id
}

output "table_name" {
  description = "DynamoDB table of the leases and decision claims."
  value       = aws_dynamodb_table.reviews.name
}

output "function_name" {
  description = "Name of the review_console function."
  value       = module.function.function_name
}

output "log_group_name" {
  description = "Log group of the review_console function."
  value       = module.function.log_group_name
}

output "review_records_s3_uri" {
  description = "s3://<bucket>/<prefix> of the decided reviews (one JSON object per review)."
  value       = "s3://${local.data_bucket_name}/${local.records_prefix}"
}

output "policy_json" {
  description = "The function role's inline policy (JSON)."
  value       = module.function.policy_json
}
