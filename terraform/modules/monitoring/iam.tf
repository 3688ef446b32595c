# The role the monitoring processing jobs run as: read captures, baseline and preprocessor; write reports;
# publish Model Monitor's metrics; write logs; pull the analyzer image.

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
  name   = "${var.name_prefix}-monitoring-permissions"
  role   = aws_iam_role.monitoring.id
  policy = data.aws_iam_policy_document.monitoring.json
}
