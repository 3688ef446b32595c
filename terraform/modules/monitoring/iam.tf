# Each engine gets exactly what it calls.
# model_monitor: the role the monitoring processing jobs run as: read captures, baseline and preprocessor; write
# reports; publish Model Monitor's metrics; write logs; pull the analyzer image.
# scheduled_check: the check function's policy (the same reads and writes, the metrics, PutEvents of its own
# event) and the role EventBridge Scheduler invokes it with.

data "aws_iam_policy_document" "monitoring_assume_role" {
  statement {
    sid     = "SageMakerAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = local.model_monitor ? 1 : 0

  name               = "${var.name_prefix}-monitoring"
  description        = "Runs the ${local.schedule_name} Model Monitor jobs."
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume_role.json

  tags = var.tags
}

locals {
  s3_arn       = "arn:${data.aws_partition.current.partition}:s3:::"
  capture_keys = var.capture_prefix == "" ? "*" : "${trim(var.capture_prefix, "/")}/*"

  # The CloudWatch namespaces Model Monitor's data-quality analyzer publishes to for a real-time endpoint, as AWS
  # writes them. AWS spells it three ways: the SageMaker Python SDK's Model Monitor dashboards read
  # aws/sagemaker/Endpoints/data-metrics (sagemaker/model_monitor/dashboards.py, with the Endpoint and
  # MonitoringSchedule dimensions; the model-quality page names aws/sagemaker/Endpoints/model-metrics alike:
  # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-cw.html); the Developer Guide's
  # built-in container page says /aws/sagemaker/Endpoints/data-metric
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html) and its
  # bring-your-own-container page /aws/sagemaker/Endpoint/data-metrics
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html). A denied PutMetricData
  # would leave the drift alarm without data, so all three are admitted; the first is the one the dashboard, the
  # alarm and the embedded analyzer use. The batch-transform namespaces (aws/sagemaker/ModelMonitoring/...) are
  # not: this module monitors an endpoint only.
  model_monitor_metric_namespaces = [
    "aws/sagemaker/Endpoints/data-metrics",
    "/aws/sagemaker/Endpoints/data-metric",
    "/aws/sagemaker/Endpoint/data-metrics",
  ]
}

data "aws_iam_policy_document" "monitoring" {
  statement {
    sid     = "ReadCapturedTraffic"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.s3_arn}${var.capture_bucket_name}/${local.capture_keys}",
    ]
  }

  statement {
    sid     = "ReadBaselineAndPreprocessor"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.s3_arn}${var.data_bucket_name}/${local.baseline_prefix}/*",
      "${local.s3_arn}${var.data_bucket_name}/${local.code_key}",
    ]
  }

  statement {
    sid       = "WriteReports"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${local.s3_arn}${var.data_bucket_name}/${local.reports_prefix}/*"]
  }

  statement {
    sid       = "ListCaptureBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["${local.s3_arn}${var.capture_bucket_name}"]

    dynamic "condition" {
      for_each = var.capture_prefix == "" ? [] : [var.capture_prefix]

      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${trim(condition.value, "/")}/*"]
      }
    }
  }

  statement {
    sid       = "ListMonitoringFiles"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["${local.s3_arn}${var.data_bucket_name}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.monitoring_prefix}/*"]
    }
  }

  statement {
    # PutMetricData has no resource-level permissions; the condition pins it to Model Monitor's namespaces.
    sid       = "PublishDataQualityMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = local.model_monitor_metric_namespaces
    }
  }

  statement {
    sid    = "WriteProcessingJobLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/ProcessingJobs",
      "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/ProcessingJobs:*",
    ]
  }

  statement {
    # GetAuthorizationToken has no resource-level permissions.
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid    = "PullAnalyzerImage"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:ecr:${data.aws_region.current.name}:${data.aws_sagemaker_prebuilt_ecr_image.analyzer.registry_id}:repository/sagemaker-model-monitor-analyzer",
    ]
  }

  dynamic "statement" {
    # Decrypt/GenerateDataKey: reading and writing SSE-KMS objects. Encrypt: a processing job with a KMS key in its
    # output configuration (the job definition's kms_key_id), as SageMaker lists for the processing job's role
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html, CreateProcessingJob API).
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseBucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # The job definition puts the key on the processing volume (volume_kms_key_id): "If you specify a volume KMS
    # key in the resource configuration of your processing job, add kms:CreateGrant" (same page). The grant is for
    # the volume SageMaker attaches (kms:GrantIsForAWSResource,
    # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource).
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "GrantVolumeKeyToSageMaker"
      effect    = "Allow"
      actions   = ["kms:CreateGrant", "kms:DescribeKey"]
      resources = [statement.value]

      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_role_policy" "monitoring" {
  count = local.model_monitor ? 1 : 0

  name   = "${var.name_prefix}-monitoring-permissions"
  role   = aws_iam_role.monitoring[0].id
  policy = data.aws_iam_policy_document.monitoring.json
}

################################################################################
# scheduled_check: the function's permissions
################################################################################

data "aws_iam_policy_document" "scheduled_check" {
  statement {
    sid       = "ReadCapturedTraffic"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.s3_arn}${var.capture_bucket_name}/${local.capture_keys}"]
  }

  statement {
    # The hour folders of the endpoint's captures (and the variants above them).
    sid       = "ListCaptureBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["${local.s3_arn}${var.capture_bucket_name}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.capture_prefix == "" ? "${var.endpoint_name}/*" : "${trim(var.capture_prefix, "/")}/${var.endpoint_name}/*"]
    }
  }

  statement {
    # The baseline the pipeline wrote, the previous run's state in the reports, and the reviewed labels.
    sid     = "ReadBaselineStateAndLabels"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.s3_arn}${var.data_bucket_name}/${local.baseline_prefix}/*",
      "${local.s3_arn}${var.data_bucket_name}/${local.reports_prefix}/*",
      "${local.s3_arn}${var.data_bucket_name}/${local.ground_truth_prefix}/*",
    ]
  }

  statement {
    sid       = "ListStateAndLabels"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["${local.s3_arn}${var.data_bucket_name}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.reports_prefix}/*", "${local.ground_truth_prefix}/*"]
    }
  }

  statement {
    sid       = "WriteReports"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${local.s3_arn}${var.data_bucket_name}/${local.reports_prefix}/*"]
  }

  statement {
    # PutMetricData has no resource-level permissions; the condition pins it to Model Monitor's namespace, where
    # the check publishes the same metrics.
    sid       = "PublishDataQualityMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["aws/sagemaker/Endpoints/data-metrics"]
    }
  }

  statement {
    # Its own retrain trigger only: the default bus, with its source and detail-type (PutEvents' condition keys,
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
    sid       = "PutCheckCompletedEvents"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:event-bus/default"]

    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = [local.check_event_source]
    }

    condition {
      test     = "StringEquals"
      variable = "events:detail-type"
      values   = [local.check_event_detail_type]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseBucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

################################################################################
# scheduled_check: the role EventBridge Scheduler invokes the function with
################################################################################

# Trust as the Scheduler guide sets it up, pinned to this account with aws:SourceAccount
# (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
data "aws_iam_policy_document" "scheduler_assume_role" {
  statement {
    sid     = "SchedulerAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.scheduled_check ? 1 : 0

  name               = "${var.name_prefix}-scheduler"
  description        = "EventBridge Scheduler's role for the ${local.schedule_name} schedule: invokes the check function."
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeCheck"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = local.scheduled_check ? [module.scheduled_check[0].function_arn] : ["arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${local.check_name}"]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.scheduled_check ? 1 : 0

  name   = "${var.name_prefix}-scheduler-permissions"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}
