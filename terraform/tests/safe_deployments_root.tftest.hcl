# The root module's wiring of safe deployments, against a mocked AWS provider: the monitoring module's endpoint
# alarms reach the pipeline's rollout, the registry reaches the destroy-time cleanup.

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

run "a_canary_rollout_is_guarded_by_the_monitoring_modules_endpoint_alarms" {
  variables {
    deployment_strategy = "canary"
    deployment          = { traffic_step_percent = 20 }
  }

  assert {
    condition     = jsondecode(module.training_pipeline.state_machine_definition).States.LoadSettings.Parameters.RollbackAlarmNames == join(",", module.monitoring.deployment_alarm_names)
    error_message = "The pipeline's rollout must roll back on the monitoring module's 5xx, latency and error-rate alarms."
  }

  assert {
    condition     = module.monitoring.deployment_alarm_names == ["courier-vehicle-endpoint-5xx", "courier-vehicle-endpoint-latency-p99", "courier-vehicle-endpoint-error-rate"]
    error_message = "The rollback alarms are the endpoint's 5xx, p99 latency and error-rate alarms."
  }

  assert {
    condition     = jsondecode(module.training_pipeline.state_machine_definition).States.LoadSettings.Parameters.ModelPackageGroupName == output.model_package_group_name && output.model_package_group_name == "courier-vehicle-models"
    error_message = "The pipeline registers versions in the group the root module outputs."
  }

  assert {
    condition     = strcontains(output.rollback_command, "python -m training.launch --rollback --state-machine-arn ")
    error_message = "rollback_command must be output."
  }
}

run "the_cost_guard_is_opt_in_and_empties_the_registry_it_is_given" {
  variables {
    destroy_deletes_endpoint = true
    cleanup_python           = ".venv/bin/python"
  }

  assert {
    condition = (
      module.endpoint.destroy_deletes_endpoint &&
      module.endpoint.endpoint_name == "courier-vehicle-endpoint"
    )
    error_message = "destroy_deletes_endpoint must reach modules/endpoint."
  }

  assert {
    condition     = length(module.monitoring.alarm_names["endpoint_idle"]) > 0
    error_message = "A provisioned endpoint gets the idle-endpoint alarm."
  }
}

run "a_serverless_endpoint_has_no_idle_alarm" {
  variables {
    endpoint_serverless = { memory_size_mb = 2048, max_concurrency = 5 }
    capture_percentage  = 0
  }

  assert {
    condition     = !contains(keys(module.monitoring.alarm_names), "endpoint_idle")
    error_message = "A serverless endpoint bills nothing while idle: no idle alarm."
  }
}

run "rejects_an_unknown_deployment_strategy" {
  command = plan

  variables {
    deployment_strategy = "big_bang"
  }

  expect_failures = [var.deployment_strategy]
}
