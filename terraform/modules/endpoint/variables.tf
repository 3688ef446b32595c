################################################################################
# Names
################################################################################

variable "name_prefix" {
  description = "Prefix of every name the module derives (the endpoint name when endpoint_name is null, the scaling policy)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.name_prefix)) && length(var.name_prefix) <= 24
    error_message = "name_prefix must be at most 24 characters of lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint the training pipeline creates and updates. null: <name_prefix>-endpoint. Changing it makes the next pipeline run create a second endpoint; the old one keeps running (and billing) until deleted by hand."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit, or null."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource the module creates (the scalable target)."
  type        = map(string)
  default     = {}
}

################################################################################
# Deployment settings (handed to the training pipeline through production_variant)
################################################################################

variable "instance_type" {
  description = "Instance type of the provisioned endpoint (ignored when serverless is set). Changing it while autoscaling is registered makes the pipeline's UpdateEndpoint fail: see README, \"Changing the instance type\"."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker hosting instance type such as ml.m5.large (the \"ml.\" prefix is required)."
  }
}

variable "initial_instance_count" {
  description = "Instances the pipeline starts a new endpoint with (ignored when serverless is set). A retrain keeps the running count (UpdateEndpoint with RetainAllVariantProperties); once autoscaling is registered it moves the count between autoscaling.min_capacity and max_capacity."
  type        = number
  default     = 1

  validation {
    condition     = var.initial_instance_count >= 1 && floor(var.initial_instance_count) == var.initial_instance_count
    error_message = "initial_instance_count must be a whole number, at least 1."
  }
}

variable "serverless" {
  description = "SageMaker Serverless Inference instead of instances: memory per concurrent invocation (MB) and the endpoint's maximum concurrency. null: a provisioned endpoint (instance_type x initial_instance_count). Serverless endpoints support neither data capture nor Model Monitor, and scale themselves (no autoscaling is registered); see README before switching an existing endpoint."
  type = object({
    memory_size_mb  = number
    max_concurrency = number
  })
  default = null

  validation {
    condition     = var.serverless == null || try(contains([1024, 2048, 3072, 4096, 5120, 6144], var.serverless.memory_size_mb), false)
    error_message = "serverless.memory_size_mb must be one of 1024, 2048, 3072, 4096, 5120 or 6144."
  }

  validation {
    condition     = var.serverless == null || try(var.serverless.max_concurrency >= 1 && var.serverless.max_concurrency <= 200 && floor(var.serverless.max_concurrency) == var.serverless.max_concurrency, false)
    error_message = "serverless.max_concurrency must be a whole number between 1 and 200."
  }
}

variable "capture_percentage" {
  description = "Percentage of requests the endpoint captures to S3 for Model Monitor (the endpoint config's InitialSamplingPercentage); 0 turns capture off. Ignored when serverless is set: serverless endpoints cannot capture."
  type        = number
  default     = 100

  validation {
    condition     = var.capture_percentage >= 0 && var.capture_percentage <= 100 && floor(var.capture_percentage) == var.capture_percentage
    error_message = "capture_percentage must be a whole number between 0 and 100."
  }
}

################################################################################
# Autoscaling (provisioned endpoints only, once the endpoint exists)
################################################################################

variable "autoscaling" {
  description = <<-EOT
    Target tracking on SageMakerVariantInvocationsPerInstance for the AllTraffic variant:
    min_capacity and max_capacity bound the instance count; target_invocations_per_instance is the average number of
    invocations per instance per minute to hold (take it from a load test: the sustainable rate at the latency you
    accept, times 60, with headroom); scale_in_cooldown and scale_out_cooldown are in seconds.
  EOT
  type = object({
    min_capacity                    = optional(number, 1)
    max_capacity                    = optional(number, 2)
    target_invocations_per_instance = optional(number, 100)
    scale_in_cooldown               = optional(number, 300)
    scale_out_cooldown              = optional(number, 60)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.autoscaling.min_capacity >= 1 && floor(var.autoscaling.min_capacity) == var.autoscaling.min_capacity
    error_message = "autoscaling.min_capacity must be a whole number, at least 1 (SageMaker cannot scale a provisioned variant to zero)."
  }

  validation {
    condition     = var.autoscaling.max_capacity >= var.autoscaling.min_capacity && floor(var.autoscaling.max_capacity) == var.autoscaling.max_capacity
    error_message = "autoscaling.max_capacity must be a whole number, at least autoscaling.min_capacity."
  }

  validation {
    condition     = var.autoscaling.target_invocations_per_instance > 0
    error_message = "autoscaling.target_invocations_per_instance must be greater than 0."
  }

  validation {
    condition = alltrue([
      for cooldown in [var.autoscaling.scale_in_cooldown, var.autoscaling.scale_out_cooldown] :
      cooldown >= 0 && floor(cooldown) == cooldown
    ])
    error_message = "autoscaling.scale_in_cooldown and autoscaling.scale_out_cooldown must be whole numbers of seconds, at least 0."
  }
}

################################################################################
# Ordering on first apply (see README, "First apply on an empty account")
################################################################################

variable "endpoint_exists" {
  description = "Whether the endpoint is in service by the time this module's autoscaling is created: true once the pipeline has deployed it (phase 2 of a two-phase apply), or when deployment_trigger is the launcher run that deploys it earlier in the same apply. false (the default) registers no autoscaling, so a first apply on an empty account never asks for a missing endpoint."
  type        = bool
  default     = false
  nullable    = false
}

variable "deployment_trigger" {
  description = "Any value produced by the resource that runs the first deployment in the same apply (e.g. the id or output of the launcher's terraform_data when the training pipeline module has launch_on_apply = true). The autoscaling resources are created after that resource. null: nothing to wait for (two-phase apply)."
  type        = any
  default     = null
}

################################################################################
# Cost guard: terraform destroy deletes what the pipeline deployed (opt-in)
################################################################################

variable "destroy_deletes_endpoint" {
  description = "Whether terraform destroy also deletes the pipeline-owned endpoint, its endpoint configs and models (<name_prefix>-*) and the versions in model_package_group_name, with scripts/cleanup_endpoint (a destroy-time local-exec). false (the default) leaves them: the endpoint keeps billing until deleted by hand (README, \"Destroying\"). The machine running terraform destroy needs cleanup_python with boto3 and the repository checked out."
  type        = bool
  default     = false
  nullable    = false
}

variable "model_package_group_name" {
  description = "The training pipeline's model package group; with destroy_deletes_endpoint its versions are deleted before Terraform deletes the group. null: no registry to empty."
  type        = string
  default     = null

  validation {
    condition     = var.model_package_group_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.model_package_group_name))
    error_message = "model_package_group_name must be 1-63 letters, digits and hyphens, or null."
  }
}

variable "cleanup_python" {
  description = "Python interpreter (with boto3) that runs scripts/cleanup_endpoint at destroy, e.g. the repository's .venv/bin/python."
  type        = string
  default     = "python3"
  nullable    = false
}

variable "cleanup_working_dir" {
  description = "Repository root, where scripts/cleanup_endpoint is. null: three folders above this module."
  type        = string
  default     = null
}
