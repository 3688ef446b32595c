# The serving endpoint, Terraform's side of it: its name, the deployment settings the training pipeline deploys it
# with (production_variant, data capture), and its autoscaling once it exists. The endpoint itself, its endpoint
# configs and models are created by the pipeline (CreateEndpoint, then UpdateEndpoint per model version), so no
# plan can recreate the endpoint or roll its model back. See README.md, "Who owns what".

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  endpoint_name = coalesce(var.endpoint_name, "${var.name_prefix}-endpoint")

  # SageMaker lowercases endpoint names in ARNs.
  endpoint_arn = format(
    "arn:%s:sagemaker:%s:%s:endpoint/%s",
    data.aws_partition.current.partition,
    data.aws_region.current.name,
    data.aws_caller_identity.current.account_id,
    lower(local.endpoint_name),
  )

  # One variant, with the same name in every endpoint config: blue/green updates then keep it, and with it the
  # scalable target registered on it and the VariantName dimension of its metrics and alarms.
  variant_name = "AllTraffic"

  deployment_mode = var.serverless == null ? "provisioned" : "serverless"

  # A ProductionVariant of CreateEndpointConfig without ModelName (the pipeline adds the model of each version).
  # The two modes have different shapes; the one not chosen is never output.
  production_variants = {
    provisioned = {
      VariantName          = local.variant_name
      InstanceType         = var.instance_type
      InitialInstanceCount = var.initial_instance_count
      InitialVariantWeight = 1
    }
    serverless = {
      VariantName = local.variant_name
      ServerlessConfig = {
        MemorySizeInMB = try(var.serverless.memory_size_mb, null)
        MaxConcurrency = try(var.serverless.max_concurrency, null)
      }
    }
  }

  # Serverless endpoints support neither data capture nor Model Monitor.
  data_capture_enabled = var.serverless == null && var.capture_percentage > 0

  # Serverless endpoints scale themselves; a provisioned one can only be registered once it exists.
  autoscaling_enabled = var.endpoint_exists && var.serverless == null

  cleanup_working_dir = coalesce(var.cleanup_working_dir, abspath("${path.module}/../../.."))
}

check "serverless_endpoints_capture_nothing" {
  assert {
    condition     = var.serverless == null || var.capture_percentage == 0
    error_message = "SageMaker Serverless Inference supports neither data capture nor Model Monitor: capture_percentage = ${var.capture_percentage} is ignored and the endpoint will not be monitored. Set capture_percentage = 0 to acknowledge."
  }
}

################################################################################
# Autoscaling of the AllTraffic variant (provisioned endpoints only)
################################################################################

# Holds the deployment trigger so that the scalable target can depend on it: the first pipeline run (when it runs
# in the same apply) has put the endpoint in service before the target is registered on it.
resource "terraform_data" "deployment_trigger" {
  count = local.autoscaling_enabled ? 1 : 0

  input = var.deployment_trigger
}

resource "aws_appautoscaling_target" "variant" {
  count = local.autoscaling_enabled ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${local.endpoint_name}/variant/${local.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
  # No role_arn: Application Auto Scaling uses (and on first use creates) its service-linked role for SageMaker.

  tags = var.tags

  # Deregistered before the destroy-time cleanup deletes the endpoint it scales.
  depends_on = [terraform_data.deployment_trigger, terraform_data.endpoint_cleanup]
}

resource "aws_appautoscaling_policy" "invocations_per_instance" {
  count = local.autoscaling_enabled ? 1 : 0

  name               = "${local.endpoint_name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.variant[0].service_namespace
  resource_id        = aws_appautoscaling_target.variant[0].resource_id
  scalable_dimension = aws_appautoscaling_target.variant[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}

################################################################################
# Cost guard (opt-in): terraform destroy deletes the pipeline-owned endpoint
################################################################################

# Destroyed last among everything that refers to the endpoint: the outputs that name the endpoint depend on it
# (outputs.tf), so the monitoring schedule, the alarms, the inference workflow and the autoscaling go first, then
# this runs scripts/cleanup_endpoint. A destroy-time provisioner may only read self, so everything the command
# needs is kept in input (https://developer.hashicorp.com/terraform/language/resources/provisioners/syntax,
# "Destroy-Time Provisioners"). The resource always exists and the opt-in is part of its input: switching
# destroy_deletes_endpoint off updates it in place, where removing it (count = 0) would run the destroy-time
# provisioner and delete the endpoint on the spot.
resource "terraform_data" "endpoint_cleanup" {
  input = {
    enabled             = var.destroy_deletes_endpoint
    endpoint_name       = local.endpoint_name
    name_prefix         = var.name_prefix
    model_package_group = var.model_package_group_name == null ? "" : var.model_package_group_name
    region              = data.aws_region.current.name
    python              = var.cleanup_python
    working_dir         = local.cleanup_working_dir
  }

  provisioner "local-exec" {
    when        = destroy
    working_dir = self.input.working_dir
    command = self.input.enabled ? join(" ", compact([
      self.input.python, "scripts/cleanup_endpoint",
      "--endpoint-name", self.input.endpoint_name,
      "--name-prefix", self.input.name_prefix,
      "--region", self.input.region,
      self.input.model_package_group == "" ? "" : "--model-package-group ${self.input.model_package_group}",
    ])) : "echo 'destroy_deletes_endpoint is false: the endpoint ${self.input.endpoint_name}, its endpoint configs and models are left in place'"
  }
}
