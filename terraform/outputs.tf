output "data_bucket_name" {
  description = "Bucket for datasets, model artifacts and incoming images."
  value       = module.storage.data_bucket_name
}

output "capture_bucket_name" {
  description = "Bucket receiving the endpoint's data capture."
  value       = module.storage.capture_bucket_name
}

output "endpoint_name" {
  description = "Name of the SageMaker endpoint the inference workflow calls."
  value       = module.endpoint.endpoint_name
}

output "inference_state_machine_arn" {
  description = "Start an inference with this state machine (input: {\"s3_bucket\": ..., \"s3_key\": ...}); with the default EXPRESS type, StartSyncExecution answers the route."
  value       = module.inference_workflow.state_machine_arn
}

output "inference_state_machine_name" {
  description = "Name of the inference state machine."
  value       = module.inference_workflow.state_machine_name
}

output "inference_log_group_name" {
  description = "Log group of the inference state machine's execution logs: the only record an Express execution leaves (filter on $.execution_arn)."
  value       = module.inference_workflow.state_machine_log_group_name
}

output "inference_api_url" {
  description = "HTTPS entry point for the courier app (Lambda function URL, AWS_IAM: sign requests with SigV4 for the service lambda): POST an image (image/png, image/jpeg) or {\"s3_bucket\", \"s3_key\"} as JSON; the answer is the route."
  value       = module.inference_workflow.api_url
}

output "inference_api_caller_policy_json" {
  description = "Identity policy to attach to the role of whatever calls inference_api_url."
  value       = module.inference_workflow.api_caller_policy_json
}

output "decision_bus_name" {
  description = "EventBridge bus every inference decision is published on; dispatch subscribes with a rule on it (see modules/inference_workflow/README.md)."
  value       = module.inference_workflow.decision_bus_name
}

output "decision_event_source" {
  description = "source of the decision events."
  value       = module.inference_workflow.decision_event_source
}

output "decision_detail_type" {
  description = "detail-type of the decision events."
  value       = module.inference_workflow.decision_detail_type
}

output "human_review_queue_url" {
  description = "Queue of images waiting for a person to classify them."
  value       = module.inference_workflow.human_review_queue_url
}

output "human_review_dlq_url" {
  description = "Dead-letter queue of human-review messages nobody processed."
  value       = module.inference_workflow.human_review_dlq_url
}

output "inference_function_names" {
  description = "Inference function names, keyed serialize_image, classify_image, filter_inferences, inference_api."
  value       = module.inference_workflow.function_names
}

output "log_groups" {
  description = "Every log group the stack creates, name => retention in days (where on-call looks first)."
  value       = module.inference_workflow.log_groups
}

output "confidence_threshold" {
  description = "Terraform's override of the confidence threshold, or null: then each decision uses the deployed model's own (its confidence_threshold field says which applied)."
  value       = var.confidence_threshold
}

output "training_pipeline_arn" {
  description = "ARN of the training pipeline state machine (python -m training.launch --state-machine-arn)."
  value       = module.training_pipeline.state_machine_arn
}

output "launch_command" {
  description = "The command that trains, gates and deploys a model through the pipeline."
  value       = module.training_pipeline.launch_command
}

output "notification_topic_arn" {
  description = "SNS topic of the pipeline's notifications."
  value       = module.training_pipeline.notification_topic_arn
}

output "monitoring_engine" {
  description = "The drift check's engine (python -m monitoring run-now --engine <this> --schedule <monitoring_schedule_name>)."
  value       = module.monitoring.monitoring_engine
}

output "monitoring_schedule_name" {
  description = "The drift check's schedule: EventBridge Scheduler's (scheduled_check) or Model Monitor's (model_monitor); it exists once endpoint_exists is true."
  value       = module.monitoring.monitoring_schedule_name
}

output "scheduled_check_function_name" {
  description = "The scheduled_check engine's Lambda (null with model_monitor)."
  value       = module.monitoring.scheduled_check_function_name
}

output "baseline_s3_uri" {
  description = "Where the pipeline writes the monitoring baseline (statistics.json, constraints.json)."
  value       = module.monitoring.baseline_s3_uri
}

output "alarm_topic_arn" {
  description = "SNS topic of the on-call alarms."
  value       = module.monitoring.alarm_topic_arn
}

output "probe_function_name" {
  description = "The synthetic probe's function: `aws lambda invoke --function-name <it> out.json` runs the probe now."
  value       = module.inference_workflow.probe_function_name
}

output "probe_images" {
  description = "Where the probe's images must be (S3 keys in the data bucket) => the route each must get."
  value       = module.inference_workflow.probe_images
}

output "alarm_subscriptions" {
  description = "Subscriptions to the alarm topic from alarm_subscriptions, \"<protocol>:<endpoint>\" => {arn, topic_arn, protocol, endpoint}."
  value       = module.monitoring.alarm_subscriptions
}

output "dashboard_name" {
  description = "CloudWatch dashboard for on-call."
  value       = module.monitoring.dashboard_name
}

output "autoscaling_target_id" {
  description = "Application Auto Scaling target of the endpoint (null until endpoint_exists, or when serverless)."
  value       = module.endpoint.autoscaling_target_id
}

output "kms_key_principals" {
  description = "With kms_key_arn: the roles the key's policy must allow (README, \"Customer-managed KMS key\"). grant_to_sagemaker: the roles that create grants on the key for the ML storage volumes SageMaker attaches; use: every role that encrypts or decrypts with it. null without kms_key_arn."
  value = var.kms_key_arn == null ? null : {
    grant_to_sagemaker = sort(compact([
      module.training_pipeline.state_machine_role_arn,
      module.training_pipeline.sagemaker_execution_role_arn,
      module.monitoring.monitoring_role_arn, # null with the scheduled_check engine
    ]))
    use = sort(compact([
      module.training_pipeline.state_machine_role_arn,
      module.training_pipeline.sagemaker_execution_role_arn,
      module.monitoring.monitoring_role_arn,
      module.monitoring.retrain_guard_role_arn,
      module.monitoring.scheduled_check_role_arn,
      module.write_baseline.role_arn,
      module.inference_workflow.state_machine_role_arn,
      module.inference_workflow.function_role_arns["serialize_image"],
    ]))
  }
}

output "model_package_group_name" {
  description = "The model registry's group: every model version that passed the gate, with its metrics and approval status."
  value       = module.training_pipeline.model_package_group_name
}

output "rollback_command" {
  description = "Redeploys the previous Approved model version without retraining (run it from the repository root)."
  value       = module.training_pipeline.rollback_command
}

output "review_console_url" {
  description = "The review console: open it in a browser and log in as a reviewer (modules/review_console/README.md adds one)."
  value       = module.review_console.console_url
}

output "reviewer_user_pool_id" {
  description = "Cognito user pool of the reviewers (aws cognito-idp admin-create-user --user-pool-id ...)."
  value       = module.review_console.user_pool_id
}

output "reviewer_client_id" {
  description = "Cognito app client the review console logs in with."
  value       = module.review_console.user_pool_client_id
}

output "review_records_s3_uri" {
  description = "Where decided reviews are stored, one JSON object each (shared.reviews.review_record_key)."
  value       = module.review_console.review_records_s3_uri
}

output "ground_truth_s3_uri" {
  description = "Where reviewers' labels are stored as SageMaker ground truth (read by the model-quality metrics)."
  value       = module.monitoring.ground_truth_s3_uri
}
