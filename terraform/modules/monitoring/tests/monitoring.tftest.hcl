# modules/monitoring on its own, with a mocked AWS provider (no AWS calls, no credentials).
#   terraform -chdir=terraform/modules/monitoring init -backend=false && terraform -chdir=terraform/modules/monitoring test

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

run "first_apply_has_no_schedule" {
  command = plan

  assert {
    condition     = length(aws_sagemaker_monitoring_schedule.this) == 0 && length(aws_sagemaker_data_quality_job_definition.this) == 0
    error_message = "With endpoint_exists = false (the default) there must be no job definition or schedule: the endpoint does not exist yet."
  }
}

run "schedules_hourly_data_quality_with_the_preprocessor" {
  command = plan

  variables {
    endpoint_exists = true
  }

  assert {
    condition     = aws_sagemaker_monitoring_schedule.this[0].monitoring_schedule_config[0].schedule_config[0].schedule_expression == "cron(0 * ? * * *)"
    error_message = "The schedule must run hourly."
  }

  assert {
    condition     = aws_sagemaker_data_quality_job_definition.this[0].data_quality_app_specification[0].record_preprocessor_source_uri == "s3://cv-data/monitoring/code/record_preprocessor.py"
    error_message = "The job must run the record preprocessor Terraform uploaded."
  }

  assert {
    condition     = aws_sagemaker_data_quality_job_definition.this[0].data_quality_app_specification[0].environment["publish_cloudwatch_metrics"] == "Enabled"
    error_message = "The job must publish Model Monitor's CloudWatch metrics (the drift alarm reads them)."
  }

  assert {
    condition     = aws_sagemaker_data_quality_job_definition.this[0].data_quality_baseline_config[0].statistics_resource[0].s3_uri == "s3://cv-data/monitoring/baseline/statistics.json"
    error_message = "The baseline statistics must be read from the fixed key the pipeline writes."
  }
}

run "dashboard_is_valid_json_with_every_section" {
  command = plan

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) >= 20
    error_message = "The dashboard must render from dashboard.json.tftpl with all its widgets."
  }

  assert {
    condition = contains(
      flatten([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in try(w.properties.metrics, []) : m[1] if can(m[1])]]),
      "feature_baseline_drift_brightness",
    )
    error_message = "The dashboard must show Model Monitor's drift metric per feature."
  }
}

run "retrain_guard_targets_violations_only" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern).detail.ExitMessage[0].prefix == "CompletedWithViolations"
    error_message = "Only monitoring executions that completed with violations may reach the retrain guard."
  }

  assert {
    condition     = module.retrain_guard[0].environment["PIPELINE_STATE_MACHINE_ARN"] == var.pipeline_state_machine_arn
    error_message = "The guard must start the training pipeline."
  }
}

run "auto_retrain_can_be_turned_off" {
  command = plan

  variables {
    auto_retrain_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.monitoring_violations) == 0 && length(module.retrain_guard) == 0
    error_message = "auto_retrain_enabled = false must leave out the rule and the guard."
  }
}

run "every_alarm_links_to_the_runbook_and_notifies_sns" {
  # apply (mocked): the topic ARN is only known after apply.
  command = apply

  assert {
    condition = alltrue([
      for alarm in [
        aws_cloudwatch_metric_alarm.pipeline_failed,
        aws_cloudwatch_metric_alarm.gate_rejected,
        aws_cloudwatch_metric_alarm.endpoint_5xx,
        aws_cloudwatch_metric_alarm.endpoint_latency_p99,
        aws_cloudwatch_metric_alarm.human_review_share,
        aws_cloudwatch_metric_alarm.monitor_drift,
      ] : strcontains(alarm.alarm_description, "Runbook: docs/runbook.md#") && alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:cv-alarms"])
    ])
    error_message = "Each alarm must notify the alarm topic and name its runbook section."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda_errors) == 4
    error_message = "Each function, the retrain guard included, needs an errors alarm."
  }
}

run "subscribes_on_call_to_the_alarm_topic" {
  command = plan

  variables {
    alarm_subscriptions = [
      { protocol = "email", endpoint = "oncall@example.com" },
      { protocol = "https", endpoint = "https://pager.example/sns" },
    ]
  }

  assert {
    condition = (
      length(aws_sns_topic_subscription.alarms) == 2 &&
      aws_sns_topic_subscription.alarms["email:oncall@example.com"].protocol == "email" &&
      aws_sns_topic_subscription.alarms["https:https://pager.example/sns"].endpoint == "https://pager.example/sns" &&
      aws_sns_topic_subscription.alarms["https:https://pager.example/sns"].endpoint_auto_confirms == false
    )
    error_message = "Each alarm_subscriptions entry must subscribe to the alarm topic; an HTTPS endpoint confirms on its own."
  }
}

run "refuses_a_subscription_that_is_not_an_address_or_https_url" {
  command = plan

  variables {
    alarm_subscriptions = [{ protocol = "https", endpoint = "oncall@example.com" }]
  }

  expect_failures = [var.alarm_subscriptions]
}

run "probe_alarms_fire_on_a_wrong_route_or_failure_and_on_silence" {
  command = plan

  variables {
    probe_enabled          = true
    probe_interval_minutes = 10
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.probe_failed[0].metric_name == "ProbeFailures" &&
      aws_cloudwatch_metric_alarm.probe_failed[0].threshold == 1 &&
      aws_cloudwatch_metric_alarm.probe_failed[0].period == 600 &&
      aws_cloudwatch_metric_alarm.probe_failed[0].dimensions.service == "inference_probe"
    )
    error_message = "probe-failed must alarm on one ProbeFailures in a probe interval."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.probe_silent[0].metric_name == "ProbeChecks" &&
      aws_cloudwatch_metric_alarm.probe_silent[0].statistic == "SampleCount" &&
      aws_cloudwatch_metric_alarm.probe_silent[0].treat_missing_data == "breaching" &&
      aws_cloudwatch_metric_alarm.probe_silent[0].period == 1200
    )
    error_message = "probe-silent must alarm when no probe reported for two intervals (missing data breaches)."
  }
}

run "no_probe_alarms_without_a_probe" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.probe_failed) == 0 && length(aws_cloudwatch_metric_alarm.probe_silent) == 0
    error_message = "Without probe_enabled there is no probe to alarm on."
  }
}

run "lambda_alarms_count_failures_not_refused_input" {
  command = plan

  variables {
    input_rejecting_function_name = "cv-serialize-image"
  }

  assert {
    condition = (
      one([for q in aws_cloudwatch_metric_alarm.lambda_errors["cv-serialize-image"].metric_query : q.expression if q.id == "failures"]) == "FILL(errors, 0) - FILL(rejected, 0)" &&
      one([for q in aws_cloudwatch_metric_alarm.lambda_errors["cv-serialize-image"].metric_query : q.metric[0].metric_name if q.id == "rejected"]) == "ImagesRejected" &&
      one([for q in aws_cloudwatch_metric_alarm.lambda_errors["cv-filter-inferences"].metric_query : q.expression if q.id == "failures"]) == "FILL(errors, 0)" &&
      aws_cloudwatch_metric_alarm.lambda_errors["cv-filter-inferences"].threshold == 1
    )
    error_message = "serialize_image's alarm must subtract its refusals (ImagesRejected) from Errors; the others alarm on every error (a failure)."
  }
}
