# Watching the deployed model: a drift check of the endpoint's captured traffic (hourly), by one of two engines
# with one contract (monitoring_engine: the scheduled check every account can run, or Model Monitor data quality
# for accounts that have it), a retrain guard that starts the training pipeline when a run finds drift, one
# CloudWatch dashboard for the whole workflow, and alarms (to SNS) that each point at their section of
# docs/runbook.md.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The AWS-owned analyzer image of the region (Model Monitor's prebuilt container).
data "aws_sagemaker_prebuilt_ecr_image" "analyzer" {
  repository_name = "sagemaker-model-monitor-analyzer"
  image_tag       = "latest"
}

locals {
  schedule_name = "${var.name_prefix}-data-quality"
  guard_name    = "${var.name_prefix}-retrain-guard"
  check_name    = "${var.name_prefix}-scheduled-check"

  model_monitor   = var.monitoring_engine == "model_monitor"
  scheduled_check = var.monitoring_engine == "scheduled_check"
  # The scheduled check's retrain trigger (monitoring/check_event.py): source and detail-type of its event.
  check_event_source      = "${var.name_prefix}.monitoring"
  check_event_detail_type = "Drift Check Completed"

  monitoring_root = "s3://${var.data_bucket_name}/${var.monitoring_prefix}"
  baseline_prefix = "${var.monitoring_prefix}/baseline"
  reports_prefix  = "${var.monitoring_prefix}/reports"
  code_key        = "${var.monitoring_prefix}/code/record_preprocessor.py"

  statistics_s3_uri  = "${local.monitoring_root}/baseline/statistics.json"
  constraints_s3_uri = "${local.monitoring_root}/baseline/constraints.json"
  reports_s3_uri     = "${local.monitoring_root}/reports"
  capture_s3_uri     = trimsuffix("s3://${var.capture_bucket_name}/${trim(var.capture_prefix, "/")}", "/")
  # Where reviewed labels (SageMaker's ground-truth records) arrive: the review console writes them.
  ground_truth_prefix = "${var.monitoring_prefix}/ground-truth"
  # The retrain guard reads the review records only when it waits for new labels.
  wait_for_labels = var.retrain_min_new_labels > 0

  # The repository's copy unless the caller points elsewhere (a variable also keeps `terraform validate` of
  # this module on its own from reading a file outside it).
  preprocessor_source = coalesce(var.record_preprocessor_path, "${path.module}/../../../monitoring/record_preprocessor.py")

  alarm_topic_arn = var.alarm_topic_arn != null ? var.alarm_topic_arn : aws_sns_topic.alarms[0].arn
  alarm_actions   = [local.alarm_topic_arn]

  guard_function_names = var.auto_retrain_enabled ? [module.retrain_guard[0].function_name] : []
  check_function_names = local.scheduled_check ? [module.scheduled_check[0].function_name] : []
  all_function_names   = distinct(concat(var.lambda_function_names, local.guard_function_names, local.check_function_names))
  lambda_failure_descriptions = {
    for name in local.all_function_names : name => format(
      "Lambda function %s failed %d or more times in 5 minutes%s.",
      name, var.lambda_failures_threshold, name == var.input_rejecting_function_name ? " (errors other than refused input)" : "",
    )
  }

  endpoint_dimensions = {
    EndpointName = var.endpoint_name
    VariantName  = var.endpoint_variant_name
  }
  monitor_dimensions = {
    Endpoint           = var.endpoint_name
    MonitoringSchedule = local.schedule_name
  }
}

################################################################################
# Alarm topic
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.alarm_topic_arn == null ? 1 : 0

  #checkov:skip=CKV_AWS_26: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; a customer key would need a key policy for CloudWatch, which this module does not own.
  name = "${var.name_prefix}-alarms"

  tags = var.tags
}

# Someone on call gets every alarm: e-mail addresses and HTTPS endpoints (paging tools) from alarm_subscriptions.
resource "aws_sns_topic_subscription" "alarms" {
  for_each = { for s in var.alarm_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn = local.alarm_topic_arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
  # An HTTPS endpoint confirms SNS's request itself; Terraform does not wait for it.
  endpoint_auto_confirms = false
}

################################################################################
# Engine "model_monitor": Model Monitor data quality, hourly
################################################################################

# The record preprocessor runs inside the analyzer container; Terraform ships the repository's copy.
resource "aws_s3_object" "record_preprocessor" {
  count = local.model_monitor ? 1 : 0

  bucket       = var.data_bucket_name
  key          = local.code_key
  source       = local.preprocessor_source
  source_hash  = filemd5(local.preprocessor_source)
  content_type = "text/x-python"

  tags = var.tags
}

resource "aws_sagemaker_data_quality_job_definition" "this" {
  count = local.model_monitor && var.endpoint_exists ? 1 : 0

  name     = local.schedule_name
  role_arn = aws_iam_role.monitoring[0].arn

  data_quality_app_specification {
    image_uri                      = data.aws_sagemaker_prebuilt_ecr_image.analyzer.registry_path
    record_preprocessor_source_uri = "s3://${aws_s3_object.record_preprocessor[0].bucket}/${aws_s3_object.record_preprocessor[0].key}"
    environment = {
      publish_cloudwatch_metrics = "Enabled"
      # Read by record_preprocessor.py to name the predicted class.
      CLASS_LABELS = join(",", var.class_labels)
    }
  }

  # Written by the pipeline's baseline step (functions/write_baseline, monitoring/baseline.py) at these fixed keys.
  data_quality_baseline_config {
    constraints_resource {
      s3_uri = local.constraints_s3_uri
    }
    statistics_resource {
      s3_uri = local.statistics_s3_uri
    }
  }

  data_quality_job_input {
    endpoint_input {
      endpoint_name = var.endpoint_name
      local_path    = "/opt/ml/processing/input/endpoint"
    }
  }

  data_quality_job_output_config {
    kms_key_id = var.kms_key_arn
    monitoring_outputs {
      s3_output {
        s3_uri         = local.reports_s3_uri
        local_path     = "/opt/ml/processing/output"
        s3_upload_mode = "EndOfJob"
      }
    }
  }

  job_resources {
    cluster_config {
      instance_count    = 1
      instance_type     = var.monitoring_instance_type
      volume_size_in_gb = var.monitoring_volume_size_gb
      volume_kms_key_id = var.kms_key_arn
    }
  }

  stopping_condition {
    max_runtime_in_seconds = var.monitoring_max_runtime_seconds
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.monitoring]
}

resource "aws_sagemaker_monitoring_schedule" "this" {
  count = local.model_monitor && var.endpoint_exists ? 1 : 0

  name = local.schedule_name

  monitoring_schedule_config {
    monitoring_job_definition_name = aws_sagemaker_data_quality_job_definition.this[0].name
    monitoring_type                = "DataQuality"

    schedule_config {
      schedule_expression = var.schedule_expression
    }
  }

  tags = var.tags
}

################################################################################
# Engine "scheduled_check": EventBridge Scheduler -> the check Lambda, hourly
################################################################################

# The same record preprocessor, baseline, checks, report layout, metrics and retrain trigger as Model Monitor
# (monitoring/scheduled_check.py), from a function any account can run.
module "scheduled_check" {
  source = "../lambda_function"
  count  = local.scheduled_check ? 1 : 0

  function_name = local.check_name
  description   = "Checks the endpoint's captured traffic against the monitoring baseline (the scheduled_check engine)."
  zip_path      = "${coalesce(var.lambda_artifacts_dir, "${path.root}/../build/lambdas")}/scheduled_check.zip"
  memory_size   = var.check_memory_size
  timeout       = var.monitoring_max_runtime_seconds > 900 ? 900 : var.monitoring_max_runtime_seconds
  # One run at a time: a run started by hand and the hourly one must not read the same window twice.
  reserved_concurrent_executions = 1

  powertools_service_name      = "scheduled_check"
  powertools_metrics_namespace = var.metrics_namespace
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days

  environment = {
    ENDPOINT_NAME              = var.endpoint_name
    SCHEDULE_NAME              = local.schedule_name
    CAPTURE_S3_URI             = local.capture_s3_uri
    BASELINE_S3_URI            = "${local.monitoring_root}/baseline"
    REPORTS_S3_URI             = local.reports_s3_uri
    EVENT_SOURCE               = local.check_event_source
    EVENT_BUS_NAME             = "default"
    PUBLISH_CLOUDWATCH_METRICS = "Enabled"
    CLASS_LABELS               = join(",", var.class_labels)
    GROUND_TRUTH_S3_URI        = "${local.monitoring_root}/ground-truth"
  }
  policy_json = data.aws_iam_policy_document.scheduled_check.json

  tags = var.tags
}

# EventBridge Scheduler invokes the function with the scheduler role (iam.tf); on the embedded AWS schedules are
# stored but never fire, and `python -m monitoring run-now` invokes the function instead.
resource "aws_scheduler_schedule" "scheduled_check" {
  count = local.scheduled_check && var.endpoint_exists ? 1 : 0

  name                         = local.schedule_name
  description                  = "Hourly drift check of ${var.endpoint_name}'s captured traffic."
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.scheduled_check[0].function_arn
    role_arn = aws_iam_role.scheduler[0].arn
    # <aws.scheduler.scheduled-time> is a context attribute Scheduler fills in
    # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
    input = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 2
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

################################################################################
# Violations -> retrain (at most one pipeline run at a time)
################################################################################

# model_monitor: the rule matches documented fields of the "SageMaker Processing Job State Change" event only: source,
# detail-type and detail.ProcessingJobStatus
# (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#processing-job-state).
# The documented detail carries neither the run's outcome nor its schedule, and no documented field tells a
# monitoring job from any other processing job (Model Monitor's job names are not documented), so every completed
# processing job reaches the guard, which asks DescribeProcessingJob (MonitoringScheduleArn) and
# ListMonitoringExecutions (MonitoringExecutionStatus = CompletedWithViolations) before it starts anything.
# A run that finds violations completes: ProcessingJobStatus has no violations value.
# scheduled_check: the rule matches the check's own event (source pinned by the check's IAM policy), every status,
# so the guard decides on every run as it does for Model Monitor's.
resource "aws_cloudwatch_event_rule" "monitoring_violations" {
  count = var.auto_retrain_enabled ? 1 : 0

  name = "${var.name_prefix}-monitoring-violations"
  description = (local.model_monitor
    ? "Completed SageMaker processing jobs: the retrain guard starts the training pipeline for our Model Monitor runs that found violations."
    : "Completed drift checks: the retrain guard starts the training pipeline for our scheduled checks that found violations."
  )
  event_pattern = (local.model_monitor
    ? jsonencode(jsondecode(file("${path.module}/retrain_event_pattern.json")))
    : jsonencode({ source = [local.check_event_source], "detail-type" = [local.check_event_detail_type] })
  )

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "retrain_guard" {
  count = var.auto_retrain_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.monitoring_violations[0].name
  target_id = "retrain-guard"
  arn       = module.retrain_guard[0].function_arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }
}

resource "aws_lambda_permission" "events_invoke_guard" {
  count = var.auto_retrain_enabled ? 1 : 0

  statement_id  = "AllowMonitoringViolationsRule"
  action        = "lambda:InvokeFunction"
  function_name = module.retrain_guard[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.monitoring_violations[0].arn
}

data "aws_iam_policy_document" "retrain_guard" {
  statement {
    sid       = "CheckAndStartPipeline"
    effect    = "Allow"
    actions   = ["states:ListExecutions", "states:StartExecution"]
    resources = [var.pipeline_state_machine_arn]
  }

  statement {
    # The last successful execution's input is what a retrain repeats.
    sid       = "ReadPipelineExecutions"
    effect    = "Allow"
    actions   = ["states:DescribeExecution"]
    resources = ["${replace(var.pipeline_state_machine_arn, ":stateMachine:", ":execution:")}:*"]
  }

  dynamic "statement" {
    # model_monitor only: the guard tells a monitoring run from any other completed processing job by its
    # MonitoringScheduleArn, so it may describe every processing job of the account and Region (resource type
    # processing-job: Service Authorization Reference,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html).
    for_each = local.model_monitor ? ["processing-job"] : []

    content {
      sid       = "DescribeProcessingJobs"
      effect    = "Allow"
      actions   = ["sagemaker:DescribeProcessingJob"]
      resources = ["arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:processing-job/*"]
    }
  }

  dynamic "statement" {
    # model_monitor only: the execution of our schedule whose ProcessingJobArn is the job.
    # ListMonitoringExecutions has no resource type (same reference), so it can only be granted on "*".
    for_each = local.model_monitor ? ["*"] : []

    content {
      sid       = "ListMonitoringExecutions"
      effect    = "Allow"
      actions   = ["sagemaker:ListMonitoringExecutions"]
      resources = ["*"]
    }
  }

  statement {
    sid       = "ReadViolationReports"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.data_bucket_name}/${local.reports_prefix}/*"]
  }

  dynamic "statement" {
    # retrain_min_new_labels > 0 only: list the review records (ListObjectsV2 is s3:ListBucket on the bucket; the
    # s3:prefix condition key holds the request's prefix,
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html#condition-key-bucket-ops-2).
    for_each = local.wait_for_labels ? [var.review_records_prefix] : []

    content {
      sid       = "ListReviewRecords"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.data_bucket_name}"]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${statement.value}/", "${statement.value}/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.wait_for_labels ? [var.review_records_prefix] : []

    content {
      sid       = "ReadReviewRecords"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.data_bucket_name}/${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "DecryptViolationReports"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

module "retrain_guard" {
  source = "../lambda_function"
  count  = var.auto_retrain_enabled ? 1 : 0

  function_name = local.guard_name
  description   = "Starts the training pipeline when a monitoring run finds drift, unless a pipeline run is in progress."
  zip_path      = "${coalesce(var.lambda_artifacts_dir, "${path.root}/../build/lambdas")}/retrain_guard.zip"
  memory_size   = 256
  timeout       = 30

  powertools_service_name      = "retrain_guard"
  powertools_metrics_namespace = var.metrics_namespace
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days

  environment = {
    PIPELINE_STATE_MACHINE_ARN = var.pipeline_state_machine_arn
    MONITORING_SCHEDULE_NAME   = local.schedule_name
    CHECK_EVENT_SOURCE         = local.check_event_source
    RETRAIN_ON_CHECKS          = join(",", var.retrain_on_checks)
    RETRAIN_IGNORE_FEATURES    = join(",", var.retrain_ignore_features)
    PIPELINE_INPUT             = jsonencode(jsondecode(var.retrain_pipeline_input))
    RETRAIN_MIN_NEW_LABELS     = tostring(var.retrain_min_new_labels)
    REVIEW_RECORDS_BUCKET      = var.data_bucket_name
    REVIEW_RECORDS_PREFIX      = var.review_records_prefix
  }
  policy_json = data.aws_iam_policy_document.retrain_guard.json

  tags = var.tags
}

################################################################################
# Dashboard
################################################################################

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region                      = data.aws_region.current.name
    pipeline_state_machine_arn  = var.pipeline_state_machine_arn
    inference_state_machine_arn = var.inference_state_machine_arn
    endpoint_name               = var.endpoint_name
    variant_name                = var.endpoint_variant_name
    schedule_name               = local.schedule_name
    monitoring_engine           = var.monitoring_engine
    namespace                   = var.metrics_namespace
    services                    = var.metric_services
    guard_service               = "retrain_guard"
    check_service               = "scheduled_check"
    routes                      = var.routes
    function_names              = local.all_function_names
    drift_features              = var.dashboard_drift_features
    drift_threshold             = var.drift_alarm_threshold
    human_review_threshold      = var.human_review_share_threshold
    latency_threshold_us        = var.model_latency_p99_ms * 1000
    api_function_name           = var.api_function_name
    probe_enabled               = var.probe_enabled
    probe_interval_minutes      = var.probe_interval_minutes
    served_accuracy_threshold   = var.served_accuracy_alarm_threshold
    auto_route_threshold        = var.auto_route_precision_alarm_threshold
    audit_metric_service        = var.audit_metric_service
  })
}

################################################################################
# Alarms: each description names its runbook section
################################################################################

resource "aws_cloudwatch_metric_alarm" "pipeline_failed" {
  alarm_name          = "${var.name_prefix}-pipeline-failed"
  alarm_description   = "A training pipeline execution failed or timed out. Runbook: ${var.runbook_url}#pipeline-failed"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "failures"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0)"
    label       = "Failed or timed-out pipeline executions"
    return_data = true
  }

  metric_query {
    id = "failed"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsFailed"
      dimensions  = { StateMachineArn = var.pipeline_state_machine_arn }
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "timed_out"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = { StateMachineArn = var.pipeline_state_machine_arn }
      period      = 300
      stat        = "Sum"
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "gate_rejected" {
  alarm_name          = "${var.name_prefix}-gate-rejected"
  alarm_description   = "The accuracy gate rejected a newly trained model; the endpoint keeps the previous one. Runbook: ${var.runbook_url}#gate-rejected"
  namespace           = var.metrics_namespace
  metric_name         = "GateRejected"
  dimensions          = { service = var.metric_services["evaluate_model"] }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "endpoint_5xx" {
  alarm_name          = "${var.name_prefix}-endpoint-5xx"
  alarm_description   = "The endpoint returned 5xx errors (model container failing). Runbook: ${var.runbook_url}#endpoint-5xx-errors"
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = local.endpoint_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.endpoint_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "endpoint_latency_p99" {
  alarm_name          = "${var.name_prefix}-endpoint-latency-p99"
  alarm_description   = "The endpoint's p99 model latency is above ${var.model_latency_p99_ms} ms. Runbook: ${var.runbook_url}#endpoint-p99-latency"
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = local.endpoint_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.model_latency_p99_ms * 1000 # ModelLatency is in microseconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

# Deployment guardrails (with endpoint_5xx and endpoint_latency_p99): the training pipeline's canary or linear
# rollouts roll back when one of them is in ALARM while a step bakes (deployment_alarm_names). They watch the
# endpoint's metrics, so the old and the new fleet together (SageMaker, "Auto-Rollback Configuration and
# Monitoring", first alarm example).
resource "aws_cloudwatch_metric_alarm" "endpoint_error_rate" {
  alarm_name          = "${var.name_prefix}-endpoint-error-rate"
  alarm_description   = "More than ${var.endpoint_error_rate_percent}% of the endpoint's invocations got a 5xx answer from the model in 5 minutes. Runbook: ${var.runbook_url}#endpoint-error-rate"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.endpoint_error_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)"
    label       = "5xx answers, % of invocations"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/SageMaker"
      metric_name = "Invocation5XXErrors"
      dimensions  = local.endpoint_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/SageMaker"
      metric_name = "Invocations"
      dimensions  = local.endpoint_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  tags = var.tags
}

# Cost guard: a provisioned endpoint bills every hour whether or not anyone calls it. SageMaker publishes no
# Invocations datapoint for a period without requests, so missing data is breaching.
resource "aws_cloudwatch_metric_alarm" "endpoint_idle" {
  count = var.idle_endpoint_hours == null ? 0 : 1

  alarm_name          = "${var.name_prefix}-endpoint-idle"
  alarm_description   = "The endpoint answered no invocation for ${coalesce(var.idle_endpoint_hours, 0)} hours and still bills for its instances. Runbook: ${var.runbook_url}#endpoint-idle"
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocations"
  dimensions          = local.endpoint_dimensions
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = coalesce(var.idle_endpoint_hours, 1)
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "human_review_share" {
  alarm_name          = "${var.name_prefix}-human-review-share"
  alarm_description   = "More than ${var.human_review_share_threshold * 100}% of predictions in the last hour went to human review. Runbook: ${var.runbook_url}#human-review-share-high"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.human_review_share_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "share"
    expression  = "IF(total > 0, FILL(low, 0) / total, 0)"
    label       = "Share of predictions sent to human review"
    return_data = true
  }

  metric_query {
    id         = "total"
    expression = "FILL(low, 0) + FILL(confident, 0)"
  }

  metric_query {
    id = "low"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "LowConfidencePredictions"
      dimensions  = { service = var.metric_services["filter_inferences"] }
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "confident"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "ConfidentPredictions"
      dimensions  = { service = var.metric_services["filter_inferences"] }
      period      = 3600
      stat        = "Sum"
    }
  }

  tags = var.tags
}

# Failures only: an unsure prediction is a route (no error), and serialize_image's refusals of bad input (a GIF, a
# missing object) are counted by its ImagesRejected metric and taken off its Errors.
resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = toset(local.all_function_names)

  alarm_name          = "${each.value}-errors"
  alarm_description   = "${local.lambda_failure_descriptions[each.value]} Runbook: ${var.runbook_url}#lambda-errors"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = var.lambda_failures_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "failures"
    expression  = each.value == var.input_rejecting_function_name ? "FILL(errors, 0) - FILL(rejected, 0)" : "FILL(errors, 0)"
    label       = "Failed invocations"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = each.value }
      period      = 300
      stat        = "Sum"
    }
  }

  dynamic "metric_query" {
    for_each = each.value == var.input_rejecting_function_name ? [each.value] : []

    content {
      id = "rejected"
      metric {
        namespace   = var.metrics_namespace
        metric_name = "ImagesRejected"
        dimensions  = { service = var.metric_services["serialize_image"] }
        period      = 300
        stat        = "Sum"
      }
    }
  }

  tags = var.tags
}

# The probe runs known images through the whole workflow: a wrong route or a failure means customers are being
# misrouted or failed too, at any traffic; silence means the probe itself is broken.
resource "aws_cloudwatch_metric_alarm" "probe_failed" {
  count = var.probe_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-probe-failed"
  alarm_description   = "The synthetic probe got a wrong route or a failure for a known image. Runbook: ${var.runbook_url}#probe-failed"
  namespace           = var.metrics_namespace
  metric_name         = "ProbeFailures"
  dimensions          = { service = var.metric_services["inference_probe"] }
  statistic           = "Sum"
  period              = var.probe_interval_minutes * 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "probe_silent" {
  count = var.probe_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-probe-silent"
  alarm_description   = "The synthetic probe reported no checks for two of its intervals: it is not running, so nothing watches the workflow at zero traffic. Runbook: ${var.runbook_url}#probe-silent"
  namespace           = var.metrics_namespace
  metric_name         = "ProbeChecks"
  dimensions          = { service = var.metric_services["inference_probe"] }
  statistic           = "SampleCount"
  period              = min(86400, var.probe_interval_minutes * 60 * 2)
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

# Model quality on reviewers' labels (monitoring/model_quality.py, published by the scheduled check for the labels
# collected in its window). An hour without labels publishes nothing, which is not a failure: notBreaching.
resource "aws_cloudwatch_metric_alarm" "served_accuracy" {
  alarm_name          = "${var.name_prefix}-served-accuracy-low"
  alarm_description   = "The served model's accuracy on reviewed labels (ServedAccuracy) was below ${var.served_accuracy_alarm_threshold} in the last hour. Runbook: ${var.runbook_url}#served-accuracy-low"
  namespace           = var.metrics_namespace
  metric_name         = "ServedAccuracy"
  dimensions          = { service = "scheduled_check" }
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.served_accuracy_alarm_threshold
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "auto_route_precision" {
  alarm_name          = "${var.name_prefix}-auto-route-precision-low"
  alarm_description   = "Reviewed automatic routes (audit samples and other labelled confident predictions) were right less often than ${var.auto_route_precision_alarm_threshold} in the last hour (AutoRoutePrecision). Runbook: ${var.runbook_url}#auto-route-precision-low"
  namespace           = var.metrics_namespace
  metric_name         = "AutoRoutePrecision"
  dimensions          = { service = "scheduled_check" }
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.auto_route_precision_alarm_threshold
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

# The inference state machine counts an audit sample it could not queue (the courier's route stands).
resource "aws_cloudwatch_metric_alarm" "audit_sample_not_queued" {
  alarm_name          = "${var.name_prefix}-audit-sample-not-queued"
  alarm_description   = "An audit sample could not be sent to the human-review queue: its route stands, but automatic precision is measured on fewer reviews. Runbook: ${var.runbook_url}#audit-sample-not-queued"
  namespace           = var.metrics_namespace
  metric_name         = "AuditSampleNotQueued"
  dimensions          = { service = var.audit_metric_service }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "monitor_drift" {
  alarm_name          = "${var.name_prefix}-monitor-drift"
  alarm_description   = "The drift check (${var.monitoring_engine}) measured baseline drift above ${var.drift_alarm_threshold} on a watched feature. Runbook: ${var.runbook_url}#monitor-drift-violations"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.drift_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "worst"
    expression  = "MAX([${join(", ", [for i, _ in var.drift_alarm_features : "drift${i}"])}])"
    label       = "Largest baseline drift of the watched features"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = var.drift_alarm_features

    content {
      id = "drift${metric_query.key}"
      metric {
        namespace   = "aws/sagemaker/Endpoints/data-metrics"
        metric_name = "feature_baseline_drift_${metric_query.value}"
        dimensions  = local.monitor_dimensions
        period      = 3600
        stat        = "Maximum"
      }
    }
  }

  tags = var.tags
}
