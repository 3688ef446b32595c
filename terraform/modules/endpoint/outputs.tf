output "endpoint_name" {
  description = "Name of the SageMaker endpoint: the pipeline creates/updates it, the inference workflow invokes it, monitoring watches it."
  value       = local.endpoint_name
  # With destroy_deletes_endpoint, whatever uses the endpoint is destroyed before the cleanup deletes it.
  depends_on = [terraform_data.endpoint_cleanup]
}

output "endpoint_arn" {
  description = "ARN of the endpoint (built from the name: it is valid before the pipeline has created the endpoint)."
  value       = local.endpoint_arn
  depends_on  = [terraform_data.endpoint_cleanup]
}

output "variant_name" {
  description = "The endpoint's only production variant (AllTraffic): the VariantName dimension of its CloudWatch metrics."
  value       = local.variant_name
}

output "production_variant" {
  description = "The ProductionVariant the pipeline puts in each endpoint config, less ModelName: {VariantName, InstanceType, InitialInstanceCount, InitialVariantWeight} for a provisioned endpoint, {VariantName, ServerlessConfig = {MemorySizeInMB, MaxConcurrency}} for a serverless one."
  value       = local.production_variants[local.deployment_mode]
}

output "serverless" {
  description = "Whether the endpoint is deployed with SageMaker Serverless Inference."
  value       = var.serverless != null
}

output "data_capture_enabled" {
  description = "Whether endpoint configs capture data (provisioned endpoint and capture_percentage > 0). When false the pipeline omits DataCaptureConfig and no Model Monitor schedule can run."
  value       = local.data_capture_enabled
}

output "data_capture_percentage" {
  description = "InitialSamplingPercentage of the endpoint configs' DataCaptureConfig; null when data_capture_enabled is false."
  value       = local.data_capture_enabled ? var.capture_percentage : null
}

output "autoscaling_target_id" {
  description = "ID of the Application Auto Scaling target on the variant; null while endpoint_exists is false or the endpoint is serverless."
  value       = one(aws_appautoscaling_target.variant[*].id)
}

output "autoscaling_policy_arn" {
  description = "ARN of the target-tracking policy; null when autoscaling_target_id is null."
  value       = one(aws_appautoscaling_policy.invocations_per_instance[*].arn)
}

output "destroy_deletes_endpoint" {
  description = "Whether terraform destroy runs scripts/cleanup_endpoint (the endpoint, its configs and models, the registry's versions)."
  value       = var.destroy_deletes_endpoint
}
