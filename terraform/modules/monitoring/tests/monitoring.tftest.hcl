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
  capture_prefix             = "datacapture"
  pipeline_state_machine_arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-pipeline"
  lambda_function_names      = ["cv-serialize-image", "cv-classify-image", "cv-filter-inferences"]
  lambda_artifacts_dir       = "tests/fixtures"
  powertools_layer_version   = 27
}

run "first_apply_has_no_schedule" {
  command = plan

  assert {
    condition     = length(aws_sagemaker_monitoring_schedule.this) == 0 && length(aws_sagemaker_data_quality_job_definition.this) == 0 && length(aws_scheduler_schedule.scheduled_check) == 0
    error_message = "With endpoint_exists = false (the default) there must be no schedule of either engine: the endpoint does not exist yet."
  }
}

run "the_default_engine_is_the_one_every_account_can_run" {
  command = plan

  variables {
    endpoint_exists = true
  }

  assert {
    condition     = var.monitoring_engine == "scheduled_check" && length(aws_scheduler_schedule.scheduled_check) == 1
    error_message = "The default engine must be scheduled_check (Model Monitor is closed to new customers)."
  }

  assert {
    condition     = length(aws_sagemaker_monitoring_schedule.this) + length(aws_sagemaker_data_quality_job_definition.this) + length(aws_iam_role.monitoring) + length(aws_s3_object.record_preprocessor) == 0
    error_message = "The scheduled_check engine must create no Model Monitor resources (a new account cannot create them)."
  }

  assert {
    condition     = aws_scheduler_schedule.scheduled_check[0].schedule_expression == "cron(0 * ? * * *)" && aws_scheduler_schedule.scheduled_check[0].name == "cv-data-quality"
    error_message = "The check must run hourly, under the schedule name the metrics' MonitoringSchedule dimension uses."
  }

  assert {
    condition     = jsondecode(aws_scheduler_schedule.scheduled_check[0].target[0].input).scheduled_time == "<aws.scheduler.scheduled-time>"
    error_message = "The schedule must pass its scheduled time (a Scheduler context attribute) to the check."
  }

  assert {
    condition = (
      module.scheduled_check[0].environment["SCHEDULE_NAME"] == "cv-data-quality"
      && module.scheduled_check[0].environment["CAPTURE_S3_URI"] == "s3://cv-capture/datacapture"
      && module.scheduled_check[0].environment["BASELINE_S3_URI"] == "s3://cv-data/monitoring/baseline"
      && module.scheduled_check[0].environment["REPORTS_S3_URI"] == "s3://cv-data/monitoring/reports"
      && module.scheduled_check[0].environment["EVENT_SOURCE"] == "cv.monitoring"
    )
    error_message = "The check must read the captures and baseline, and report, where Model Monitor would."
  }
}

run "scheduled_check_grants_exactly_what_it_calls" {
  command = plan

  variables {
    endpoint_exists = true
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.scheduler_assume_role.statement : [for p in s.principals : p.identifiers]
    ]) == [toset(["scheduler.amazonaws.com"])]
    error_message = "The scheduler role must trust EventBridge Scheduler only."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.scheduler.statement : s.actions] == [toset(["lambda:InvokeFunction"])]
    error_message = "The scheduler role may invoke the check function and nothing else."
  }

  assert {
    condition = jsonencode(one([
      for s in data.aws_iam_policy_document.scheduled_check.statement : [for c in s.condition : sort(c.values)] if s.actions == toset(["cloudwatch:PutMetricData"])
    ])) == jsonencode([["aws/sagemaker/Endpoints/data-metrics"]])
    error_message = "The check may publish metrics only to Model Monitor's namespace, where the dashboard and alarms read them."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.scheduled_check.statement : s.resources if s.actions == toset(["events:PutEvents"])
    ]) == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/default"])
    error_message = "The check may put its event on the default bus only."
  }

  assert {
    condition = jsonencode(one([
      for s in data.aws_iam_policy_document.scheduled_check.statement : { for c in s.condition : c.variable => sort(c.values) } if s.actions == toset(["events:PutEvents"])
    ])) == jsonencode({ "events:source" = ["cv.monitoring"], "events:detail-type" = ["Drift Check Completed"] })
    error_message = "The check may put only its own Drift Check Completed event."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.scheduled_check.statement : alltrue([for a in s.actions : !startswith(a, "sagemaker:")])
    ])
    error_message = "The scheduled check calls no SageMaker API."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.scheduled_check.statement : s.resources if s.actions == toset(["s3:PutObject"])
    ]) == toset(["arn:aws:s3:::cv-data/monitoring/reports/*"])
    error_message = "The check writes only under the reports prefix."
  }
}

run "engine_is_validated" {
  command = plan

  variables {
    monitoring_engine = "cloudwatch"
  }

  expect_failures = [var.monitoring_engine]
}

run "schedules_hourly_data_quality_with_the_preprocessor" {
  command = plan

  variables {
    endpoint_exists   = true
    monitoring_engine = "model_monitor"
  }

  assert {
    condition     = length(aws_scheduler_schedule.scheduled_check) == 0 && length(module.scheduled_check) == 0 && length(aws_iam_role.scheduler) == 0
    error_message = "The model_monitor engine must create no scheduled check."
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

run "model_quality_alarms_watch_the_checks_metrics_and_tolerate_no_labels" {
  command = plan

  variables {
    served_accuracy_alarm_threshold      = 0.8
    auto_route_precision_alarm_threshold = 0.97
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.served_accuracy.metric_name == "ServedAccuracy" &&
      aws_cloudwatch_metric_alarm.served_accuracy.threshold == 0.8 &&
      aws_cloudwatch_metric_alarm.auto_route_precision.metric_name == "AutoRoutePrecision" &&
      aws_cloudwatch_metric_alarm.auto_route_precision.threshold == 0.97
    )
    error_message = "The quality alarms must watch ServedAccuracy and AutoRoutePrecision at the configured thresholds."
  }

  assert {
    condition = alltrue([
      for alarm in [aws_cloudwatch_metric_alarm.served_accuracy, aws_cloudwatch_metric_alarm.auto_route_precision] :
      alarm.namespace == var.metrics_namespace && alarm.dimensions["service"] == "scheduled_check" && length(alarm.dimensions) == 1 &&
      alarm.comparison_operator == "LessThanThreshold" && alarm.treat_missing_data == "notBreaching"
    ])
    error_message = "Quality alarms read the scheduled check's metrics, alarm below the threshold, and an hour without labels is not a breach."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.audit_sample_not_queued.metric_name == "AuditSampleNotQueued" &&
      aws_cloudwatch_metric_alarm.audit_sample_not_queued.dimensions["service"] == "inference_workflow" &&
      aws_cloudwatch_metric_alarm.audit_sample_not_queued.threshold == 1
    )
    error_message = "One audit sample the workflow could not queue must raise the AuditSampleNotQueued alarm."
  }

  assert {
    condition = alltrue([
      for name in ["ServedAccuracy", "AutoRoutePrecision", "LabelledPredictions", "AuditSamples", "AuditSampleNotQueued"] :
      contains(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in try(w.properties.metrics, []) : m[1] if can(m[1])]]), name)
    ])
    error_message = "The dashboard must show the model-quality and audit-sample metrics."
  }
}

run "refuses_a_quality_threshold_outside_0_1" {
  command = plan

  variables {
    served_accuracy_alarm_threshold      = 1.2
    auto_route_precision_alarm_threshold = 0
  }

  expect_failures = [var.served_accuracy_alarm_threshold, var.auto_route_precision_alarm_threshold]
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
        aws_cloudwatch_metric_alarm.served_accuracy,
        aws_cloudwatch_metric_alarm.auto_route_precision,
        aws_cloudwatch_metric_alarm.audit_sample_not_queued,
      ] : strcontains(alarm.alarm_description, "Runbook: docs/runbook.md#") && alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:cv-alarms"])
    ])
    error_message = "Each alarm must notify the alarm topic and name its runbook section."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda_errors) == 5
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

run "retrain_rule_matches_documented_event_fields_only" {
  command = plan

  # The detail fields of the documented "SageMaker Processing Job State Change" event
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#processing-job-state).
  variables {
    documented_detail = [
      "ProcessingInputs", "ProcessingOutputConfig", "ProcessingJobName", "ProcessingResources", "StoppingCondition",
      "AppSpecification", "NetworkConfig", "RoleArn", "ExperimentConfig", "ProcessingJobArn", "ProcessingJobStatus",
      "FailureReason", "ProcessingEndTime", "ProcessingStartTime", "LastModifiedTime", "CreationTime",
    ]
    monitoring_engine = "model_monitor"
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern).source == ["aws.sagemaker"]
      && jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern)["detail-type"] == ["SageMaker Processing Job State Change"]
    )
    error_message = "The rule must match SageMaker's Processing Job State Change events."
  }

  assert {
    condition = alltrue([
      for field in keys(jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern).detail) :
      contains(var.documented_detail, field)
    ])
    error_message = "The rule may match only fields AWS documents for the event (no ExitMessage, no MonitoringScheduleArn)."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern).detail.ProcessingJobStatus == ["Completed"]
    error_message = "Only completed processing jobs may reach the retrain guard (a run with violations completes too)."
  }

  assert {
    condition     = module.retrain_guard[0].environment["PIPELINE_STATE_MACHINE_ARN"] == var.pipeline_state_machine_arn
    error_message = "The guard must start the training pipeline."
  }

  assert {
    condition     = module.retrain_guard[0].environment["MONITORING_SCHEDULE_NAME"] == "cv-data-quality"
    error_message = "The guard must know which schedule's executions are ours."
  }
}

run "scheduled_check_retrain_rule_matches_the_checks_own_event" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.monitoring_violations[0].event_pattern) == { source = ["cv.monitoring"], "detail-type" = ["Drift Check Completed"] }
    error_message = "With scheduled_check the rule must match the check's Drift Check Completed events (every status: the guard decides)."
  }

  assert {
    condition     = module.retrain_guard[0].environment["CHECK_EVENT_SOURCE"] == "cv.monitoring"
    error_message = "The guard must know the source the check's events carry."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.retrain_guard.statement : alltrue([for a in s.actions : !startswith(a, "sagemaker:")])
    ])
    error_message = "With scheduled_check the guard reads no SageMaker API."
  }
}

run "retrain_guard_may_read_the_outcome_and_nothing_more" {
  command = plan

  variables {
    monitoring_engine = "model_monitor"
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.retrain_guard.statement : s.resources if s.actions == toset(["sagemaker:DescribeProcessingJob"])
    ]) == toset(["arn:aws:sagemaker:eu-west-1:123456789012:processing-job/*"])
    error_message = "DescribeProcessingJob must be granted on the account's processing jobs, not on \"*\"."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.retrain_guard.statement : s.resources if s.actions == toset(["sagemaker:ListMonitoringExecutions"])
    ]) == toset(["*"])
    error_message = "ListMonitoringExecutions has no resource type: it must be granted alone, on \"*\"."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.retrain_guard.statement :
      alltrue([for a in s.actions : !startswith(a, "sagemaker:") || contains(["sagemaker:DescribeProcessingJob", "sagemaker:ListMonitoringExecutions"], a)])
    ])
    error_message = "The guard reads SageMaker with DescribeProcessingJob and ListMonitoringExecutions only."
  }
}

run "monitoring_role_publishes_only_to_model_monitors_namespaces" {
  command = plan

  assert {
    condition = [
      for statement in data.aws_iam_policy_document.monitoring.statement : [
        for condition in statement.condition : { test = condition.test, variable = condition.variable, values = toset(condition.values) }
      ] if contains(statement.actions, "cloudwatch:PutMetricData")
      ] == [[{
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = toset(["aws/sagemaker/Endpoints/data-metrics", "/aws/sagemaker/Endpoints/data-metric", "/aws/sagemaker/Endpoint/data-metrics"])
    }]]
    error_message = "PutMetricData must be pinned (StringEquals) to the namespaces AWS documents for Model Monitor's real-time data-quality metrics, and only those."
  }

  assert {
    condition     = length([for statement in data.aws_iam_policy_document.monitoring.statement : statement if contains(statement.actions, "kms:CreateGrant")]) == 0
    error_message = "Without kms_key_arn the monitoring role needs no grant on any key."
  }
}

run "monitoring_role_may_grant_the_volume_key_to_sagemaker_only" {
  command = plan

  variables {
    endpoint_exists   = true
    monitoring_engine = "model_monitor"
    kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = [
      for statement in data.aws_iam_policy_document.monitoring.statement : {
        actions   = statement.actions
        resources = statement.resources
        condition = [for condition in statement.condition : { test = condition.test, variable = condition.variable, values = toset(condition.values) }]
      } if contains(statement.actions, "kms:CreateGrant")
      ] == [{
        actions   = toset(["kms:CreateGrant", "kms:DescribeKey"])
        resources = toset(["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
        condition = [{ test = "Bool", variable = "kms:GrantIsForAWSResource", values = toset(["true"]) }]
    }]
    error_message = "The job definition puts the key on the processing volume: the monitoring role needs kms:CreateGrant (and DescribeKey) on it, for AWS resources only."
  }

  assert {
    condition = (
      aws_sagemaker_data_quality_job_definition.this[0].job_resources[0].cluster_config[0].volume_kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" &&
      aws_sagemaker_data_quality_job_definition.this[0].data_quality_job_output_config[0].kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    error_message = "The monitoring jobs' volume and reports must be encrypted with kms_key_arn."
  }
}

run "by_default_a_retrain_does_not_wait_for_labels_and_reads_no_review" {
  command = plan

  assert {
    condition     = module.retrain_guard[0].environment["RETRAIN_MIN_NEW_LABELS"] == "0"
    error_message = "By default the guard must not wait for reviewed labels."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.retrain_guard.statement :
      alltrue([for r in s.resources : !strcontains(r, ":::cv-data/reviews") && r != "arn:aws:s3:::cv-data"])
    ])
    error_message = "A guard that does not wait for labels must not be able to list or read the review records."
  }
}

run "waiting_for_labels_lists_and_reads_only_the_review_records" {
  command = plan

  variables {
    retrain_min_new_labels = 25
  }

  assert {
    condition = (module.retrain_guard[0].environment["RETRAIN_MIN_NEW_LABELS"] == "25"
      && module.retrain_guard[0].environment["REVIEW_RECORDS_BUCKET"] == "cv-data"
    && module.retrain_guard[0].environment["REVIEW_RECORDS_PREFIX"] == "reviews")
    error_message = "The guard must get the minimum and where the review records are."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.retrain_guard.statement : s.resources if s.sid == "ListReviewRecords"
    ]) == toset(["arn:aws:s3:::cv-data"])
    error_message = "ListBucket must be granted on the data bucket only."
  }

  assert {
    condition = one(flatten([
      for s in data.aws_iam_policy_document.retrain_guard.statement : [
        for c in s.condition : { test = c.test, variable = c.variable, values = toset(c.values) }
      ] if s.sid == "ListReviewRecords"
    ])) == { test = "StringLike", variable = "s3:prefix", values = toset(["reviews/", "reviews/*"]) }
    error_message = "The listing must be limited to the review-records prefix by the s3:prefix condition."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.retrain_guard.statement : s.resources if s.sid == "ReadReviewRecords"
    ]) == toset(["arn:aws:s3:::cv-data/reviews/*"])
    error_message = "The guard may read the review records (reviews/*) and nothing else there."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.retrain_guard.statement : s.actions if s.sid == "ReadReviewRecords"
    ]) == toset(["s3:GetObject"])
    error_message = "The review records are only read (s3:GetObject)."
  }
}

run "the_label_minimum_is_a_whole_number_of_labels" {
  command = plan

  variables {
    retrain_min_new_labels = 2.5
  }

  expect_failures = [var.retrain_min_new_labels]
}

run "the_review_records_prefix_is_plain_key_segments" {
  command = plan

  variables {
    review_records_prefix = "/reviews/"
  }

  expect_failures = [var.review_records_prefix]
}
