# The root module with its defaults, as `make deploy` would plan it, against a mocked AWS provider.

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

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }

  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:mock-topic" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock" }
  }

  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:mock" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mock" }
  }

  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = { registry_path = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest" }
  }
}

variables {
  # Committed stand-ins for build/lambdas, so that terraform test never depends on `make lambdas`.
  lambda_artifacts_dir = "tests/fixtures"
  # `true scripts/function_url_permission ...`: the review console\'s apply-time AWS call does nothing here.
  function_url_permission_python = "true"
}

run "defaults_name_everything_from_the_prefix" {
  assert {
    condition     = output.data_bucket_name == "courier-vehicle-data-123456789012-eu-west-1" && output.capture_bucket_name == "courier-vehicle-capture-123456789012-eu-west-1"
    error_message = "Bucket names must be <name_prefix>-<data|capture>-<account>-<region> (globally unique)."
  }

  assert {
    condition     = output.endpoint_name == "courier-vehicle-endpoint" && output.inference_state_machine_name == "courier-vehicle-inference"
    error_message = "endpoint_name defaults to <name_prefix>-endpoint; the state machine is <name_prefix>-inference."
  }

  assert {
    condition     = module.inference_workflow.function_environments.classify_image["ENDPOINT_NAME"] == "courier-vehicle-endpoint"
    error_message = "classify_image must call the default endpoint <name_prefix>-endpoint."
  }

  assert {
    condition = (
      module.inference_workflow.function_environments.serialize_image["MAX_IMAGE_BYTES"] == "5242880" &&
      !contains(keys(module.inference_workflow.function_environments.filter_inferences), "CONFIDENCE_THRESHOLD") &&
      module.inference_workflow.function_environments.classify_image["CLASS_LABELS"] == "bicycle,motorcycle"
    )
    error_message = "The documented defaults (5 MiB images, no threshold override: the model's own, bicycle/motorcycle) must reach the functions."
  }
}

run "confidence_threshold_reaches_filter_inferences" {
  variables {
    confidence_threshold = 0.92
  }

  assert {
    condition     = module.inference_workflow.function_environments.filter_inferences["CONFIDENCE_THRESHOLD"] == "0.92"
    error_message = "var.confidence_threshold must reach filter_inferences' CONFIDENCE_THRESHOLD; got ${module.inference_workflow.function_environments.filter_inferences["CONFIDENCE_THRESHOLD"]}."
  }
}

run "audit_sample_rate_reaches_filter_inferences" {
  assert {
    condition     = module.inference_workflow.function_environments.filter_inferences["AUDIT_SAMPLE_RATE"] == "0.05"
    error_message = "By default 5 % of automatic routes are audited (AUDIT_SAMPLE_RATE 0.05); got ${module.inference_workflow.function_environments.filter_inferences["AUDIT_SAMPLE_RATE"]}."
  }

  assert {
    condition = (
      module.monitoring.alarm_names["served_accuracy"] == "courier-vehicle-served-accuracy-low" &&
      module.monitoring.alarm_names["auto_route_precision"] == "courier-vehicle-auto-route-precision-low" &&
      module.monitoring.alarm_names["audit_sample_not_queued"] == "courier-vehicle-audit-sample-not-queued"
    )
    error_message = "The root module must create the model-quality and audit-sample alarms."
  }
}

run "audit_sample_rate_zero_turns_audits_off" {
  variables {
    audit_sample_rate = 0
  }

  assert {
    condition     = module.inference_workflow.function_environments.filter_inferences["AUDIT_SAMPLE_RATE"] == "0"
    error_message = "audit_sample_rate = 0 must reach filter_inferences as AUDIT_SAMPLE_RATE 0 (no audits)."
  }
}

run "rejects_an_audit_rate_or_quality_threshold_out_of_range" {
  command = plan

  variables {
    audit_sample_rate                    = -0.1
    served_accuracy_alarm_threshold      = 1
    auto_route_precision_alarm_threshold = 1.5
  }

  expect_failures = [var.audit_sample_rate, var.served_accuracy_alarm_threshold, var.auto_route_precision_alarm_threshold]
}

run "terraforms_endpoint_settings_reach_the_pipeline" {
  variables {
    endpoint_instance_type          = "ml.c5.xlarge"
    endpoint_initial_instance_count = 2
    capture_percentage              = 30
  }

  assert {
    condition = jsondecode(module.training_pipeline.state_machine_definition).States.LoadProvisionedVariant.Parameters == {
      VariantName              = "AllTraffic"
      InstanceType             = "ml.c5.xlarge"
      "InitialInstanceCount.$" = "States.StringToJson('2')"
      "InitialVariantWeight.$" = "States.StringToJson('1')"
    }
    error_message = "endpoint_instance_type and endpoint_initial_instance_count must reach the endpoint configs the pipeline creates."
  }

  assert {
    condition     = jsondecode(module.training_pipeline.state_machine_definition).States.LoadSettings.Parameters.DataCapture["InitialSamplingPercentage.$"] == "States.StringToJson('30')"
    error_message = "capture_percentage must reach the endpoint configs' data capture."
  }

  assert {
    condition     = jsondecode(module.training_pipeline.state_machine_definition).States.UpdateEndpoint.Parameters.RetainAllVariantProperties
    error_message = "A retrain must keep the autoscaled fleet (RetainAllVariantProperties)."
  }

  assert {
    condition     = strcontains(output.launch_command, "--inference-instance-type ml.c5.xlarge")
    error_message = "The launch command must pick the serving image for the endpoint's instance type; got ${output.launch_command}."
  }
}

run "a_serverless_endpoint_reaches_the_pipeline_without_data_capture" {
  variables {
    endpoint_serverless = { memory_size_mb = 3072, max_concurrency = 8 }
    capture_percentage  = 0
  }

  assert {
    condition = (
      jsondecode(module.training_pipeline.state_machine_definition).States.LoadSettings.Parameters.EndpointConfigShape == "serverless" &&
      jsondecode(module.training_pipeline.state_machine_definition).States.LoadServerlessVariant.Parameters.ServerlessConfig == {
        "MemorySizeInMB.$" = "States.StringToJson('3072')"
        "MaxConcurrency.$" = "States.StringToJson('8')"
      }
    )
    error_message = "endpoint_serverless must reach the pipeline as a serverless endpoint config."
  }

  assert {
    condition     = jsondecode(module.training_pipeline.state_machine_definition).States.LoadSettings.Parameters.DataCapture["EnableCapture.$"] == "States.StringToJson('false')"
    error_message = "A serverless endpoint captures nothing."
  }
}

run "names_the_key_users_only_with_a_customer_key" {
  variables {
    kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    monitoring_engine = "model_monitor"
  }

  assert {
    condition = (
      length(output.kms_key_principals.grant_to_sagemaker) == 3 &&
      contains(output.kms_key_principals.grant_to_sagemaker, module.training_pipeline.state_machine_role_arn) &&
      contains(output.kms_key_principals.grant_to_sagemaker, module.training_pipeline.sagemaker_execution_role_arn) &&
      contains(output.kms_key_principals.grant_to_sagemaker, module.monitoring.monitoring_role_arn)
    )
    error_message = "The key's policy must let the pipeline's state machine, the SageMaker execution role and the monitoring role create grants for SageMaker; got ${jsonencode(output.kms_key_principals)}."
  }

  assert {
    # state machines (2), SageMaker execution and monitoring roles, baseline writer, retrain guard, serialize_image.
    condition     = length(output.kms_key_principals.use) == 7 && length(setsubtract(output.kms_key_principals.grant_to_sagemaker, output.kms_key_principals.use)) == 0
    error_message = "Every role that encrypts or decrypts with the key must be named, those that grant it included."
  }
}

run "names_the_scheduled_checks_role_as_a_key_user_with_that_engine" {
  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      length(output.kms_key_principals.grant_to_sagemaker) == 2 &&
      contains(output.kms_key_principals.use, module.monitoring.scheduled_check_role_arn) &&
      length(output.kms_key_principals.use) == 7
    )
    error_message = "With scheduled_check (the default) no monitoring role exists; the check function reads and writes with the key; got ${jsonencode(output.kms_key_principals)}."
  }
}

run "names_no_key_users_without_a_customer_key" {
  assert {
    condition     = output.kms_key_principals == null
    error_message = "Without kms_key_arn there is no key policy to write."
  }
}

run "every_log_group_expires" {
  variables {
    log_retention_days = 90
  }

  assert {
    condition     = length(output.log_groups) == 6 && alltrue([for retention in values(output.log_groups) : retention == 90])
    error_message = "Every log group must expire after log_retention_days; got ${jsonencode(output.log_groups)}."
  }
}

run "attaches_the_powertools_layer_on_aws" {
  assert {
    condition = alltrue([
      for layers in values(module.inference_workflow.function_layers) :
      layers == tolist(["arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"])
    ])
    error_message = "On AWS every function must get the Powertools layer of its region; got ${jsonencode(module.inference_workflow.function_layers)}."
  }
}

run "attaches_the_same_layer_on_the_embedded_aws" {
  variables {
    aws_endpoint_url = "http://127.0.0.1:5000"
  }

  assert {
    condition = alltrue([
      for layers in values(module.inference_workflow.function_layers) :
      layers == tolist(["arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"])
    ])
    error_message = "The embedded AWS supplies the Powertools layer locally, so functions must name it there too (a missing layer must fail locally as on AWS)."
  }
}

run "rejects_a_bad_name_prefix" {
  command = plan

  variables {
    name_prefix = "Courier_Vehicle"
  }

  expect_failures = [var.name_prefix]
}

run "rejects_a_name_prefix_over_24_characters" {
  command = plan

  variables {
    name_prefix = "courier-vehicle-classifie"
  }

  expect_failures = [var.name_prefix]
}

run "rejects_a_threshold_of_one" {
  command = plan

  variables {
    confidence_threshold = 1
  }

  expect_failures = [var.confidence_threshold]
}

run "rejects_a_threshold_of_zero" {
  command = plan

  variables {
    confidence_threshold = 0
  }

  expect_failures = [var.confidence_threshold]
}

run "rejects_out_of_range_lambda_and_log_settings" {
  command = plan

  variables {
    lambda_memory_mb        = 100
    lambda_timeout_seconds  = 0
    log_retention_days      = 10
    inference_workflow_type = "express"
    aws_endpoint_url        = "localhost:5000"
  }

  expect_failures = [
    var.lambda_memory_mb,
    var.lambda_timeout_seconds,
    var.log_retention_days,
    var.inference_workflow_type,
    var.aws_endpoint_url,
  ]
}

run "rejects_a_negative_label_minimum" {
  command = plan

  variables {
    retrain_min_new_labels = -1
  }

  expect_failures = [var.retrain_min_new_labels]
}
