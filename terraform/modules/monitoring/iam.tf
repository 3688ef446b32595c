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
    # PutMetricData has no resource-level permissions; the condition pins it to Model Monitor's namespace.
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
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseBucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "monitoring" {
  name   = "${var.name_prefix}-monitoring-permissions"
  role   = aws_iam_role.monitoring.id
  policy = data.aws_iam_policy_document.monitoring.json
}
