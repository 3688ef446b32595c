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
