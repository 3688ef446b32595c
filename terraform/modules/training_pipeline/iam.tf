# Two roles: SageMaker's execution role (what training jobs and the endpoint may touch) and the state machine's
# role (which SageMaker resources it may create, which role it may hand to SageMaker, which functions it calls).

################################################################################
# SageMaker execution role: training jobs and the endpoint's model
################################################################################

data "aws_iam_policy_document" "sagemaker_assume_role" {
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

resource "aws_iam_role" "sagemaker" {
  name               = "${var.name_prefix}-sagemaker-execution"
  description        = "Execution role of the ${local.state_machine_name} training jobs and of the models it deploys."
  assume_role_policy = data.aws_iam_policy_document.sagemaker_assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ListDataBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.data_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.dataset_prefix}/*", "${var.code_prefix}/*", "${var.model_prefix}/*"]
    }
  }

  statement {
    sid     = "ReadDatasetsCodeAndModels"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${var.data_bucket_arn}/${var.dataset_prefix}/*",
      "${var.data_bucket_arn}/${var.code_prefix}/*",
      "${var.data_bucket_arn}/${var.model_prefix}/*",
    ]
  }

  statement {
    sid       = "WriteModelArtifacts"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.data_bucket_arn}/${var.model_prefix}/*"]
  }

  statement {
    sid       = "WriteDataCapture"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.capture_bucket_arn}/${var.capture_prefix}/*"]
  }

  dynamic "statement" {
    # Decrypt: reading SSE-KMS objects. GenerateDataKey: writing them (S3 asks for a data key per object).
    # Encrypt: SageMaker's execution-role permissions for a job with a KMS key in its output configuration
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html, CreateTrainingJob API).
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid    = "UseBucketKey"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # A training job with VolumeKmsKeyId: "If you specify a volume KMS key in the resource configuration of your
    # training job, add kms:CreateGrant" to the execution role (same page). SageMaker creates the grant for the
    # volume it attaches, hence kms:GrantIsForAWSResource
    # (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource).
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

  statement {
    sid    = "WriteJobAndEndpointLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/*",
    ]
  }

  statement {
    # PutMetricData supports no resource-level permissions; the namespace condition scopes it instead, to the two
    # namespaces SageMaker documents for what this role runs: training jobs (instance and algorithm metrics,
    # /aws/sagemaker/TrainingJobs) and endpoint instances (/aws/sagemaker/Endpoints)
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html,
    # https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html).
    sid       = "PublishSageMakerMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = local.sagemaker_metric_namespaces
    }
  }

  dynamic "statement" {
    # Deployment guardrails: "Ensure that your IAM execution role has permission to perform the
    # cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html). The page does not
    # say which role reads them; the state machine role (the caller of UpdateEndpoint) has the same grant.
    for_each = length(local.rollback_alarm_arns) > 0 ? [local.rollback_alarm_arns] : []

    content {
      sid       = "ReadAutoRollbackAlarms"
      effect    = "Allow"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = statement.value
    }
  }

  statement {
    # GetAuthorizationToken supports no resource-level permissions.
    sid       = "AuthenticateToEcr"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    # The AWS-owned repositories of the two algorithms' images (their registry account differs per region).
    sid    = "PullAlgorithmImages"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [
      for repository in ["pytorch", "pytorch-inference", "image-classification"] :
      "arn:${data.aws_partition.current.partition}:ecr:${data.aws_region.current.name}:*:repository/${repository}"
    ]
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "${var.name_prefix}-sagemaker-execution-permissions"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}

################################################################################
# State machine role
################################################################################

data "aws_iam_policy_document" "state_machine_assume_role" {
  statement {
    sid     = "StepFunctionsAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    # Only state machines of this account may use the role (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.state_machine_name}-sfn"
  description        = "Role of the ${local.state_machine_name} state machine."
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid    = "RunTrainingJobs"
    effect = "Allow"
    actions = [
      "sagemaker:CreateTrainingJob",
      "sagemaker:DescribeTrainingJob",
      "sagemaker:StopTrainingJob",
    ]
    resources = [local.training_job_arns]
  }

  statement {
    # createTrainingJob.sync follows the job through this managed EventBridge rule.
    sid    = "FollowTrainingJobs"
    effect = "Allow"
    actions = [
      "events:PutTargets",
      "events:PutRule",
      "events:DescribeRule",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    ]
  }

  statement {
    sid     = "CreateModelsAndEndpointConfigs"
    effect  = "Allow"
    actions = ["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig"]
    resources = [
      local.model_arns,
      local.endpoint_config_arns,
    ]
  }

  statement {
    # CreateEndpoint and UpdateEndpoint are authorised on the endpoint and on the endpoint config they use.
    # DeleteEndpoint: an endpoint whose creation failed cannot be updated, only deleted and created again.
    sid    = "DeployTheEndpoint"
    effect = "Allow"
    actions = [
      "sagemaker:CreateEndpoint",
      "sagemaker:UpdateEndpoint",
      "sagemaker:DescribeEndpoint",
      "sagemaker:DeleteEndpoint",
    ]
    resources = [
      local.endpoint_arn,
      local.endpoint_config_arns,
    ]
  }

  statement {
    # Step Functions tags every job, model, endpoint config and endpoint its SageMaker tasks create with
    # MANAGED_BY_AWS = STARTED_BY_STEP_FUNCTIONS, so each Create* call carries Tags and needs sagemaker:AddTags on
    # the new resource (a dependent action of those calls in the Service Authorization Reference; AWS's Step
    # Functions pages leave it out, and runs fail with AccessDeniedException without it). Only that tag.
    sid     = "TagWhatStepFunctionsCreates"
    effect  = "Allow"
    actions = ["sagemaker:AddTags"]
    resources = [
      local.training_job_arns,
      local.model_arns,
      local.endpoint_config_arns,
      local.endpoint_arn,
    ]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["MANAGED_BY_AWS"]
    }
  }

  statement {
    # The model registry (Service Authorization Reference, SageMaker): CreateModelPackage on the group and on its
    # versions (model-package/<group>/<n>: the number is SageMaker's), UpdateModelPackage to record an approval,
    # a rejection, an expiry or a rollback. Only this pipeline's group.
    sid     = "RegisterModelVersions"
    effect  = "Allow"
    actions = ["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"]
    resources = [
      aws_sagemaker_model_package_group.this.arn,
      local.model_package_arns,
    ]
  }

  statement {
    # evaluation.json beside each model artifact: the version's ModelQuality statistics in the registry.
    sid       = "WriteModelQuality"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.data_bucket_arn}/${var.model_prefix}/*/evaluation.json"]
  }

  dynamic "statement" {
    # After a canary or linear rollout that ended on the old config: were the auto-rollback alarms in ALARM?
    for_each = length(local.rollback_alarm_arns) > 0 ? [local.rollback_alarm_arns] : []

    content {
      sid       = "ReadAutoRollbackAlarms"
      effect    = "Allow"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = statement.value
    }
  }

  statement {
    # Hand SageMaker its execution role (for the training job and the model), and nothing else, to no other service.
    sid       = "PassExecutionRoleToSageMaker"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  statement {
    sid     = "InvokePipelineFunctions"
    effect  = "Allow"
    actions = ["lambda:InvokeFunction"]
    resources = [
      module.evaluate_model.function_arn,
      "${module.evaluate_model.function_arn}:*",
      module.smoke_test.function_arn,
      "${module.smoke_test.function_arn}:*",
      var.write_baseline_function_arn,
      "${var.write_baseline_function_arn}:*",
    ]
  }

  statement {
    sid       = "Notify"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    # The topic's key, and the bucket key for evaluation.json (S3 asks for a data key per object written).
    content {
      sid    = "EncryptNotifications"
      effect = "Allow"
      actions = [
        "kms:GenerateDataKey",
        "kms:Decrypt",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # The caller of CreateTrainingJob with a VolumeKmsKeyId, and of CreateEndpoint/UpdateEndpoint with an endpoint
    # config that has a KmsKeyId, needs kms:CreateGrant (SageMaker API permissions reference,
    # https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html); the grant is for the
    # volumes SageMaker attaches (kms:GrantIsForAWSResource). DescribeKey: SageMaker reads the key's metadata to
    # validate it (its permissions for encrypted notebook instances and domains pair the two).
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

# Log delivery and X-Ray: the same for every state machine, so they live in one module.
module "state_machine_observability" {
  source = "../state_machine_observability"

  policy_json = data.aws_iam_policy_document.state_machine.json
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${local.state_machine_name}-permissions"
  role   = aws_iam_role.state_machine.id
  policy = module.state_machine_observability.policy_json
}
