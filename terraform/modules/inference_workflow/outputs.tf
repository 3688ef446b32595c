output "state_machine_arn" {
  description = "ARN of the inference state machine (start executions on it)."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the inference state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_type" {
  description = "EXPRESS or STANDARD."
  value       = aws_sfn_state_machine.this.type
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.state_machine.arn
}

output "state_machine_policy_json" {
  description = "The state machine role's inline policy document (JSON)."
  value       = data.aws_iam_policy_document.state_machine.json
}

output "state_machine_definition" {
  description = "The rendered, normalised ASL definition."
  value       = aws_sfn_state_machine.this.definition
}

output "state_machine_log_group_name" {
  description = "Log group of the state machine's execution logs."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "decision_bus_name" {
  description = "EventBridge bus every decision is published on (one event per image: nearby, distant or human_review)."
  value       = aws_cloudwatch_event_bus.decisions.name
}

output "decision_bus_arn" {
  description = "ARN of the decision bus."
  value       = aws_cloudwatch_event_bus.decisions.arn
}

output "decision_event_source" {
  description = "source of the decision events (match it in a consumer rule)."
  value       = local.decision_event_source
}

output "decision_detail_type" {
  description = "detail-type of the decision events (match it in a consumer rule)."
  value       = local.decision_detail_type
}

output "human_review_queue_url" {
  description = "URL of the human-review queue."
  value       = aws_sqs_queue.human_review.url
}

output "human_review_queue_arn" {
  description = "ARN of the human-review queue."
  value       = aws_sqs_queue.human_review.arn
}

output "human_review_dlq_url" {
  description = "URL of the human-review dead-letter queue."
  value       = aws_sqs_queue.human_review_dlq.url
}

output "human_review_dlq_arn" {
  description = "ARN of the human-review dead-letter queue."
  value       = aws_sqs_queue.human_review_dlq.arn
}

output "function_names" {
  description = "Function names keyed serialize_image, classify_image, filter_inferences (and inference_api when api_enabled)."
  value       = { for key, function in local.all_functions : key => function.function_name }
}

output "function_arns" {
  description = "Function ARNs, keyed like function_names."
  value       = { for key, function in local.all_functions : key => function.function_arn }
}

output "function_role_arns" {
  description = "Execution role ARNs of the functions, keyed like function_names."
  value       = { for key, function in local.all_functions : key => function.role_arn }
}

output "function_environments" {
  description = "Environment variables of the functions, keyed like function_names."
  value       = { for key, function in local.all_functions : key => function.environment }
}

output "function_policies_json" {
  description = "Inline policy documents (JSON) of the functions' roles, keyed like function_names."
  value       = { for key, function in local.all_functions : key => function.policy_json }
}

output "function_layers" {
  description = "Layer ARNs attached to each function, keyed like function_names."
  value       = { for key, function in local.all_functions : key => function.layers }
}

output "api_url" {
  description = "HTTPS entry point (function URL, AWS_IAM auth): POST an image or {\"s3_bucket\", \"s3_key\"}, get the route back. null when api_enabled is false."
  value       = one(aws_lambda_function_url.api[*].function_url)
}

output "api_function_name" {
  description = "Name of the inference_api function behind the URL, or null."
  value       = one(module.inference_api[*].function_name)
}

output "api_caller_policy_json" {
  description = "Identity policy (JSON) a caller's role needs to call the API: lambda:InvokeFunctionUrl and lambda:InvokeFunction through the URL, on the API function only. null when api_enabled is false."
  value       = one(data.aws_iam_policy_document.api_caller[*].json)
}

output "endpoint_arn" {
  description = "ARN of the SageMaker endpoint classify_image may invoke."
  value       = local.endpoint_arn
}

output "log_groups" {
  description = "Every log group the module creates, name => retention in days."
  value = merge(
    { for function in values(local.all_functions) : function.log_group_name => function.log_retention_days },
    { (aws_cloudwatch_log_group.state_machine.name) = aws_cloudwatch_log_group.state_machine.retention_in_days },
  )
}

output "probe_function_name" {
  description = "The synthetic probe's function; invoke it to run the probe now. null when probe_enabled is false."
  value       = one(module.inference_probe[*].function_name)
}

output "probe_images" {
  description = "The probe's images, S3 key in the data bucket => the route each must get."
  value       = var.probe_enabled ? local.probe_images : {}
}

output "probe_rule_name" {
  description = "EventBridge rule that runs the probe every probe_interval_minutes, or null."
  value       = one(aws_cloudwatch_event_rule.probe[*].name)
}

output "audit_metric_service" {
  description = "The service dimension of the state machine's AuditSampleNotQueued metric (in the name_prefix namespace): an audit sample that could not be queued."
  value       = local.audit_metric_service
}
