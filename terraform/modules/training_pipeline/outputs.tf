output "state_machine_arn" {
  description = "ARN of the training pipeline state machine (what the launcher starts)."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the training pipeline state machine (<name_prefix>-training-pipeline)."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_definition" {
  description = "The rendered, normalised ASL definition."
  value       = aws_sfn_state_machine.this.definition
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.state_machine.arn
}

output "state_machine_policy_json" {
  description = "The state machine role's inline policy document (JSON)."
  value       = data.aws_iam_policy_document.state_machine.json
}

output "state_machine_log_group_name" {
  description = "Log group of the state machine's execution logs."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "sagemaker_execution_role_arn" {
  description = "ARN of the role training jobs and deployed models run with."
  value       = aws_iam_role.sagemaker.arn
}

output "sagemaker_execution_policy_json" {
  description = "The SageMaker execution role's inline policy document (JSON)."
  value       = data.aws_iam_policy_document.sagemaker.json
}

output "notification_topic_arn" {
  description = "SNS topic that receives rejections and failures."
  value       = aws_sns_topic.notifications.arn
}

output "evaluate_function_arn" {
  description = "ARN of the evaluate_model function."
  value       = module.evaluate_model.function_arn
}

output "evaluate_function_name" {
  description = "Name of the evaluate_model function (its metrics: ModelAccuracy, GateApproved, GateRejected)."
  value       = module.evaluate_model.function_name
}

output "evaluate_log_group_name" {
  description = "Log group of the evaluate_model function."
  value       = module.evaluate_model.log_group_name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of evaluate_model's metrics ModelAccuracy, GateApproved, GateRejected."
  value       = var.name_prefix
}

output "metrics_service" {
  description = "The service dimension of evaluate_model's metrics."
  value       = "evaluate_model"
}

output "endpoint_name" {
  description = "Name of the endpoint the pipeline creates or updates."
  value       = local.endpoint_name
}

output "model_output_s3_uri" {
  description = "Where training jobs write <job>/output/model.tar.gz."
  value       = local.model_output_s3_uri
}

output "code_s3_uri" {
  description = "Where the launcher uploads <job>/source/sourcedir.tar.gz (pass it as --code-s3-uri)."
  value       = local.code_s3_uri
}

output "capture_s3_uri" {
  description = "Destination of the endpoint's data capture (<endpoint>/<variant>/yyyy/mm/dd/hh/ below it)."
  value       = local.capture_s3_uri
}

output "baseline_s3_uri" {
  description = "Where the baseline of the deployed model is written (statistics.json, constraints.json)."
  value       = local.baseline_s3_uri
}

output "launch_command" {
  description = "The launcher command line for this pipeline (run it from the repository root)."
  value = join(" ", [
    "python -m training.launch",
    "--state-machine-arn", aws_sfn_state_machine.this.arn,
    "--bucket", var.data_bucket_name,
    "--dataset-prefix", var.dataset_prefix,
    "--code-s3-uri", local.code_s3_uri,
    "--inference-instance-type", local.serving_image_instance_type,
  ])
}

output "serving_image_instance_type" {
  description = "The instance type the launcher must pick the serving image for (--inference-instance-type): the endpoint's instance type, or a CPU type (ml.m5.large) for a serverless endpoint. The pipeline refuses a run whose image was chosen for another one (ServingImageMismatch)."
  value       = local.serving_image_instance_type
}

output "endpoint_config_shape" {
  description = "Which CreateEndpointConfig the pipeline runs: provisioned, provisioned-volume-key (the customer key on the endpoint's ML storage volume) or serverless."
  value       = local.endpoint_config_shape
}

output "launch_id" {
  description = "Id of the launch-on-apply run (null when launch_on_apply is false): resources that need the deployed endpoint take it as their trigger."
  value       = one(terraform_data.launch[*].id)
}

output "model_package_group_name" {
  description = "The model registry's group: one version per model that passed the gate (python -m training.launch --rollback redeploys the previous Approved one)."
  value       = aws_sagemaker_model_package_group.this.model_package_group_name
}

output "model_package_group_arn" {
  description = "ARN of the model package group."
  value       = aws_sagemaker_model_package_group.this.arn
}

output "smoke_test_function_name" {
  description = "Name of the smoke_test function (metrics SmokeTestImages, SmokeTestCorrect)."
  value       = module.smoke_test.function_name
}

output "rollback_command" {
  description = "The command that redeploys the previous Approved model version to the endpoint (run it from the repository root)."
  value       = "python -m training.launch --rollback --state-machine-arn ${aws_sfn_state_machine.this.arn}"
}
