# The endpoint alarms that guard deployments (error rate, with the 5xx and latency alarms) and the idle-endpoint
# cost alarm, with a mocked AWS provider. Beside monitoring.tftest.hcl so the two can change apart.

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

  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = {
      registry_id   = "468650794304"
      registry_path = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/cv-monitoring" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:cv-alarms" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cv-retrain-guard" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-retrain-guard" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/cv-monitoring-violations" }
  }
}

variables {
  name_prefix                = "cv"
  endpoint_name              = "cv-endpoint"
  data_bucket_name           = "cv-data"
  capture_bucket_name        = "cv-capture"
  pipeline_state_machine_arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-pipeline"
  lambda_function_names      = ["cv-serialize-image", "cv-classify-image", "cv-filter-inferences"]
  lambda_artifacts_dir       = "tests/fixtures"
  powertools_layer_version   = 27
}

run "exports_the_three_alarms_that_roll_a_rollout_back" {
  command = plan

  assert {
    condition     = output.deployment_alarm_names == ["cv-endpoint-5xx", "cv-endpoint-latency-p99", "cv-endpoint-error-rate"]
    error_message = "deployment_alarm_names must be the endpoint's 5xx, p99 latency and error-rate alarms, in that order."
  }
}

run "error_rate_is_the_share_of_5xx_answers_of_the_endpoints_invocations" {
  command = plan

  variables {
    endpoint_error_rate_percent = 2
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.endpoint_error_rate.threshold == 2 && aws_cloudwatch_metric_alarm.endpoint_error_rate.comparison_operator == "GreaterThanThreshold"
    error_message = "The error-rate alarm must trip above endpoint_error_rate_percent."
  }

  assert {
    condition = one([
      for query in aws_cloudwatch_metric_alarm.endpoint_error_rate.metric_query : query.expression if query.return_data == true
    ]) == "IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)"
    error_message = "The alarm must watch 5xx answers as a percentage of invocations, 0 when there are none."
  }

  assert {
    condition = toset(flatten([
      for query in aws_cloudwatch_metric_alarm.endpoint_error_rate.metric_query : [
        for metric in query.metric : "${metric.namespace}/${metric.metric_name}/${metric.dimensions["EndpointName"]}/${metric.dimensions["VariantName"]}"
      ]
    ])) == toset(["AWS/SageMaker/Invocation5XXErrors/cv-endpoint/AllTraffic", "AWS/SageMaker/Invocations/cv-endpoint/AllTraffic"])
    error_message = "The error rate is computed from the endpoint variant's Invocation5XXErrors and Invocations."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.endpoint_error_rate.alarm_description, "#endpoint-error-rate") && length(aws_cloudwatch_metric_alarm.endpoint_error_rate.alarm_actions) == 1
    error_message = "The error-rate alarm must link to its runbook section and notify the alarm topic."
  }
}

run "an_idle_endpoint_alarms_after_the_hours_asked_with_missing_data_breaching" {
  command = plan

  variables {
    idle_endpoint_hours = 6
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.endpoint_idle[0].metric_name == "Invocations" &&
      aws_cloudwatch_metric_alarm.endpoint_idle[0].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.endpoint_idle[0].period == 3600 &&
      aws_cloudwatch_metric_alarm.endpoint_idle[0].evaluation_periods == 6 &&
      aws_cloudwatch_metric_alarm.endpoint_idle[0].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.endpoint_idle[0].threshold == 1
    )
    error_message = "Idle means fewer than 1 invocation in each of idle_endpoint_hours hours."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.endpoint_idle[0].treat_missing_data == "breaching"
    error_message = "SageMaker publishes no Invocations datapoint without requests: missing data must breach."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.endpoint_idle[0].alarm_description, "#endpoint-idle")
    error_message = "The idle alarm must link to its runbook section."
  }
}

run "no_idle_alarm_when_turned_off" {
  command = plan

  variables {
    idle_endpoint_hours = null
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.endpoint_idle) == 0 && !contains(keys(output.alarm_names), "endpoint_idle")
    error_message = "idle_endpoint_hours = null (a serverless endpoint) must create no idle alarm."
  }
}

run "refuses_an_idle_period_longer_than_a_day" {
  command = plan

  variables {
    idle_endpoint_hours = 48
  }

  expect_failures = [var.idle_endpoint_hours]
}

run "refuses_an_error_rate_of_100_percent_or_more" {
  command = plan

  variables {
    endpoint_error_rate_percent = 100
  }

  expect_failures = [var.endpoint_error_rate_percent]
}
