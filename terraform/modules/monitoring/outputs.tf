output "monitoring_engine" {
  description = "The drift-check engine: model_monitor or scheduled_check (python -m monitoring run-now --engine)."
  value       = var.monitoring_engine
}

output "monitoring_schedule_name" {
  description = "Name of the data-quality monitoring schedule (the MonitoringSchedule dimension of its metrics); it exists once endpoint_exists is true."
  value       = local.schedule_name
}

output "monitoring_schedule_arn" {
  description = "ARN of the monitoring schedule, or null while endpoint_exists is false."
  value       = one(concat(aws_sagemaker_monitoring_schedule.this[*].arn, aws_scheduler_schedule.scheduled_check[*].arn))
}

output "baseline_statistics_s3_uri" {
  description = "Where the pipeline's baseline step must write statistics.json (monitoring.baseline.upload_baseline)."
  value       = local.statistics_s3_uri
}

output "baseline_constraints_s3_uri" {
  description = "Where the pipeline's baseline step must write constraints.json."
  value       = local.constraints_s3_uri
}

output "baseline_s3_uri" {
  description = "s3://<data_bucket>/<monitoring_prefix>/baseline: the folder holding statistics.json and constraints.json (the pipeline's baseline_s3_uri)."
  value       = "${local.monitoring_root}/baseline"
}

output "baseline_s3_prefix" {
  description = "Key prefix (in data_bucket_name) of both baseline files, for upload_baseline(s3, bucket, prefix, ...)."
  value       = local.baseline_prefix
}

output "reports_s3_uri" {
  description = "Where monitoring executions write statistics.json and constraint_violations.json."
  value       = local.reports_s3_uri
}

output "record_preprocessor_s3_uri" {
  description = "S3 copy of monitoring/record_preprocessor.py that the analyzer runs (model_monitor; else null)."
  value       = one([for object in aws_s3_object.record_preprocessor : "s3://${object.bucket}/${object.key}"])
}

output "monitoring_role_arn" {
  description = "Role the Model Monitor jobs run as (model_monitor; else null)."
  value       = one(aws_iam_role.monitoring[*].arn)
}

output "analyzer_image_uri" {
  description = "The region's Model Monitor analyzer image."
  value       = data.aws_sagemaker_prebuilt_ecr_image.analyzer.registry_path
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (created unless alarm_topic_arn was given)."
  value       = local.alarm_topic_arn
}

output "alarm_subscriptions" {
  description = "Subscriptions to the alarm topic, \"<protocol>:<endpoint>\" => {arn (\"pending confirmation\" until the subscriber confirms), topic_arn, protocol, endpoint}."
  value = {
    for key, subscription in aws_sns_topic_subscription.alarms : key => {
      arn       = subscription.arn
      topic_arn = subscription.topic_arn
      protocol  = subscription.protocol
      endpoint  = subscription.endpoint
    }
  }
}

output "alarm_names" {
  description = "Every alarm the module creates, keyed by what it watches."
  value = merge(
    {
      pipeline_failed      = aws_cloudwatch_metric_alarm.pipeline_failed.alarm_name
      gate_rejected        = aws_cloudwatch_metric_alarm.gate_rejected.alarm_name
      endpoint_5xx         = aws_cloudwatch_metric_alarm.endpoint_5xx.alarm_name
      endpoint_latency_p99 = aws_cloudwatch_metric_alarm.endpoint_latency_p99.alarm_name
      endpoint_error_rate  = aws_cloudwatch_metric_alarm.endpoint_error_rate.alarm_name
      human_review_share   = aws_cloudwatch_metric_alarm.human_review_share.alarm_name
      monitor_drift        = aws_cloudwatch_metric_alarm.monitor_drift.alarm_name
      # Reviewers' labels (scheduled_check engine) and the audit samples behind them.
      served_accuracy         = aws_cloudwatch_metric_alarm.served_accuracy.alarm_name
      auto_route_precision    = aws_cloudwatch_metric_alarm.auto_route_precision.alarm_name
      audit_sample_not_queued = aws_cloudwatch_metric_alarm.audit_sample_not_queued.alarm_name
    },
    { for alarm in aws_cloudwatch_metric_alarm.endpoint_idle : "endpoint_idle" => alarm.alarm_name },
    { for alarm in aws_cloudwatch_metric_alarm.probe_failed : "probe_failed" => alarm.alarm_name },
    { for alarm in aws_cloudwatch_metric_alarm.probe_silent : "probe_silent" => alarm.alarm_name },
    { for name, alarm in aws_cloudwatch_metric_alarm.lambda_errors : "lambda_errors_${name}" => alarm.alarm_name },
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "retrain_guard_function_name" {
  description = "Name of the retrain guard Lambda, or null when auto_retrain_enabled is false."
  value       = one(module.retrain_guard[*].function_name)
}

output "monitoring_violations_rule_name" {
  description = "EventBridge rule that sends violation events to the retrain guard, or null when auto_retrain_enabled is false."
  value       = one(aws_cloudwatch_event_rule.monitoring_violations[*].name)
}

output "retrain_guard_role_arn" {
  description = "Role of the retrain guard function (null when auto_retrain_enabled is false); it decrypts violation reports with kms_key_arn."
  value       = one(module.retrain_guard[*].role_arn)
}

output "scheduled_check_function_name" {
  description = "The check Lambda of the scheduled_check engine (null with model_monitor)."
  value       = one(module.scheduled_check[*].function_name)
}

output "check_event_source" {
  description = "Source of the scheduled check's Drift Check Completed events (monitoring/check_event.py)."
  value       = local.check_event_source
}

output "ground_truth_s3_uri" {
  description = "Where reviewed labels (SageMaker ground-truth records, <prefix>/yyyy/mm/dd/hh/) are read for the model-quality metrics; the review console writes them (shared.reviews.ground_truth_key)."
  value       = "${local.monitoring_root}/ground-truth"
}

output "scheduled_check_role_arn" {
  description = "Role of the scheduled_check function (null with model_monitor); it reads and writes with kms_key_arn."
  value       = one(module.scheduled_check[*].role_arn)
}

output "deployment_alarm_names" {
  description = "The alarms on the endpoint that roll a canary or linear rollout back (the training pipeline's rollback_alarm_names): 5xx answers, p99 latency, error rate."
  value = [
    aws_cloudwatch_metric_alarm.endpoint_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.endpoint_latency_p99.alarm_name,
    aws_cloudwatch_metric_alarm.endpoint_error_rate.alarm_name,
  ]
}
