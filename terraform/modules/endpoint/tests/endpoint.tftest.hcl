# modules/endpoint on its own, with a mocked AWS provider: the endpoint's name and ARN, the deployment settings
# handed to the training pipeline, and when autoscaling is (and is not) registered on the endpoint.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  name_prefix = "cv"
}

run "registers_no_autoscaling_before_the_endpoint_exists" {
  assert {
    condition     = length(aws_appautoscaling_target.variant) == 0 && length(aws_appautoscaling_policy.invocations_per_instance) == 0 && output.autoscaling_target_id == null
    error_message = "With endpoint_exists = false (the default, phase 1) no scalable target or policy may be planned: the endpoint does not exist yet."
  }

  assert {
    condition     = output.endpoint_name == "cv-endpoint" && output.endpoint_arn == "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/cv-endpoint"
    error_message = "The endpoint name must default to <name_prefix>-endpoint, and its ARN be built from partition, region and account."
  }
}

run "deploys_a_provisioned_variant_with_data_capture_by_default" {
  variables {
    instance_type          = "ml.c5.xlarge"
    initial_instance_count = 3
    capture_percentage     = 25
  }

  assert {
    condition = output.production_variant == {
      VariantName          = "AllTraffic"
      InstanceType         = "ml.c5.xlarge"
      InitialInstanceCount = 3
      InitialVariantWeight = 1
    }
    error_message = "A provisioned endpoint's production_variant must be {VariantName = AllTraffic, InstanceType, InitialInstanceCount, InitialVariantWeight = 1} from the variables."
  }

  assert {
    condition     = output.data_capture_enabled && output.data_capture_percentage == 25 && !output.serverless
    error_message = "A provisioned endpoint must capture capture_percentage percent of its requests."
  }
}

run "registers_target_tracking_once_the_endpoint_exists" {
  variables {
    endpoint_name   = "Courier-Prod"
    endpoint_exists = true
    autoscaling = {
      min_capacity                    = 2
      max_capacity                    = 6
      target_invocations_per_instance = 250
      scale_in_cooldown               = 600
      scale_out_cooldown              = 30
    }
  }

  assert {
    condition = (
      aws_appautoscaling_target.variant[0].service_namespace == "sagemaker" &&
      aws_appautoscaling_target.variant[0].resource_id == "endpoint/Courier-Prod/variant/AllTraffic" &&
      aws_appautoscaling_target.variant[0].scalable_dimension == "sagemaker:variant:DesiredInstanceCount"
    )
    error_message = "The scalable target must be sagemaker endpoint/<endpoint name>/variant/AllTraffic on sagemaker:variant:DesiredInstanceCount; got ${aws_appautoscaling_target.variant[0].resource_id}."
  }

  assert {
    condition     = aws_appautoscaling_target.variant[0].min_capacity == 2 && aws_appautoscaling_target.variant[0].max_capacity == 6
    error_message = "The scalable target's capacity must come from autoscaling.min_capacity and max_capacity."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.invocations_per_instance[0].policy_type == "TargetTrackingScaling" &&
      aws_appautoscaling_policy.invocations_per_instance[0].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "SageMakerVariantInvocationsPerInstance" &&
      aws_appautoscaling_policy.invocations_per_instance[0].target_tracking_scaling_policy_configuration[0].target_value == 250
    )
    error_message = "The policy must track SageMakerVariantInvocationsPerInstance at autoscaling.target_invocations_per_instance."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.invocations_per_instance[0].target_tracking_scaling_policy_configuration[0].scale_in_cooldown == 600 &&
      aws_appautoscaling_policy.invocations_per_instance[0].target_tracking_scaling_policy_configuration[0].scale_out_cooldown == 30
    )
    error_message = "The policy's cooldowns must come from autoscaling.scale_in_cooldown and scale_out_cooldown."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.invocations_per_instance[0].resource_id == aws_appautoscaling_target.variant[0].resource_id &&
      aws_appautoscaling_policy.invocations_per_instance[0].scalable_dimension == aws_appautoscaling_target.variant[0].scalable_dimension &&
      output.autoscaling_target_id == aws_appautoscaling_target.variant[0].id
    )
    error_message = "The policy must be attached to the module's own scalable target, and autoscaling_target_id must name it."
  }

  assert {
    condition     = output.endpoint_arn == "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/courier-prod"
    error_message = "SageMaker lowercases endpoint names in ARNs; endpoint_arn must too."
  }
}

run "waits_for_the_deployment_trigger_in_a_one_phase_apply" {
  variables {
    endpoint_exists    = true
    deployment_trigger = "first-launch-20240101T000000Z"
  }

  assert {
    condition     = terraform_data.deployment_trigger[0].input == "first-launch-20240101T000000Z" && length(aws_appautoscaling_target.variant) == 1
    error_message = "The deployment trigger must be held by the terraform_data the scalable target depends on."
  }
}

run "serverless_switches_the_variant_shape_and_registers_no_autoscaling" {
  variables {
    endpoint_exists    = true
    serverless         = { memory_size_mb = 2048, max_concurrency = 20 }
    capture_percentage = 0
  }

  assert {
    condition = output.production_variant == {
      VariantName      = "AllTraffic"
      ServerlessConfig = { MemorySizeInMB = 2048, MaxConcurrency = 20 }
    }
    error_message = "A serverless endpoint's production_variant must be {VariantName = AllTraffic, ServerlessConfig = {MemorySizeInMB, MaxConcurrency}}, without instance settings."
  }

  assert {
    condition     = length(aws_appautoscaling_target.variant) == 0 && length(aws_appautoscaling_policy.invocations_per_instance) == 0 && output.autoscaling_target_id == null
    error_message = "Serverless endpoints scale themselves: no scalable target or policy may be planned, even with endpoint_exists = true."
  }

  assert {
    condition     = !output.data_capture_enabled && output.data_capture_percentage == null && output.serverless
    error_message = "A serverless endpoint cannot capture data: data_capture_enabled must be false and data_capture_percentage null."
  }
}

run "warns_that_serverless_turns_capture_off" {
  command = plan

  variables {
    serverless = { memory_size_mb = 1024, max_concurrency = 5 }
  }

  # capture_percentage keeps its default of 100, which a serverless endpoint cannot honour.
  expect_failures = [check.serverless_endpoints_capture_nothing]
}

run "rejects_max_capacity_below_min_capacity" {
  command = plan

  variables {
    autoscaling = { min_capacity = 3, max_capacity = 2 }
  }

  expect_failures = [var.autoscaling]
}

run "rejects_a_capture_percentage_over_100" {
  command = plan

  variables {
    capture_percentage = 101
  }

  expect_failures = [var.capture_percentage]
}

run "rejects_an_instance_type_without_the_ml_prefix" {
  command = plan

  variables {
    instance_type = "m5.large"
  }

  expect_failures = [var.instance_type]
}

run "rejects_a_serverless_memory_size_sagemaker_does_not_offer" {
  command = plan

  variables {
    serverless = { memory_size_mb = 1500, max_concurrency = 10 }
  }

  expect_failures = [var.serverless]
}

run "rejects_a_serverless_concurrency_over_200" {
  command = plan

  variables {
    serverless = { memory_size_mb = 2048, max_concurrency = 201 }
  }

  expect_failures = [var.serverless]
}

run "rejects_no_instances_and_a_zero_target" {
  command = plan

  variables {
    initial_instance_count = 0
    autoscaling            = { target_invocations_per_instance = 0 }
  }

  expect_failures = [var.initial_instance_count, var.autoscaling]
}
