# The training pipeline: train on SageMaker -> evaluate_model -> accuracy gate -> register the model version (and
# wait for approval, optionally) -> deploy the endpoint (blue/green all at once, canary or linear with auto-rollback;
# data capture) -> smoke test -> monitoring baseline, orchestrated by the state machine in statemachine.asl.json.
# The training code is not uploaded here (Terraform has no archive step it could run reproducibly): the launcher
# packages training/sourcedir and uploads it under code_prefix at launch time; Terraform owns that location.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  state_machine_name = "${var.name_prefix}-training-pipeline"
  definition_path    = coalesce(var.definition_path, "${path.module}/../../../statemachine.asl.json")
  endpoint_name      = coalesce(var.endpoint_name, "${var.name_prefix}-endpoint")

  model_output_s3_uri = "s3://${var.data_bucket_name}/${var.model_prefix}"
  code_s3_uri         = "s3://${var.data_bucket_name}/${var.code_prefix}"
  capture_s3_uri      = "s3://${var.capture_bucket_name}/${var.capture_prefix}"
  baseline_s3_uri     = coalesce(var.baseline_s3_uri, "s3://${var.data_bucket_name}/monitoring/baseline")

  # The model registry: one group per pipeline; its versions are model-package/<group>/<n> (SageMaker Developer
  # Guide, "Model Registry Models, Model Versions, and Model Groups").
  model_package_group_name = "${var.name_prefix}-models"
  guarded_rollout          = var.deployment_strategy != "all_at_once"

  # SageMaker lowercases resource names in ARNs. Training jobs, models and endpoint configs are named after the
  # training job ("<name_prefix>-<algorithm>-<time>", see training/launch.py), hence the prefix patterns.
  sagemaker_arn_prefix = format(
    "arn:%s:sagemaker:%s:%s",
    data.aws_partition.current.partition,
    data.aws_region.current.name,
    data.aws_caller_identity.current.account_id,
  )
  training_job_arns    = "${local.sagemaker_arn_prefix}:training-job/${var.name_prefix}-*"
  model_arns           = "${local.sagemaker_arn_prefix}:model/${var.name_prefix}-*"
  endpoint_config_arns = "${local.sagemaker_arn_prefix}:endpoint-config/${var.name_prefix}-*"
  endpoint_arn         = "${local.sagemaker_arn_prefix}:endpoint/${lower(local.endpoint_name)}"
  model_package_arns   = "${local.sagemaker_arn_prefix}:model-package/${local.model_package_group_name}/*"
  rollback_alarm_arns = [
    for name in var.rollback_alarm_names :
    "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:${name}"
  ]

  # What the SageMaker execution role may publish metrics to (iam.tf, PublishSageMakerMetrics).
  sagemaker_metric_namespaces = ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/Endpoints"]

  launcher_working_dir = coalesce(var.launcher_working_dir, abspath("${path.module}/../../.."))

  # The endpoint, as modules/endpoint decides it (production_variant). Provisioned or serverless.
  serverless             = var.production_variant.ServerlessConfig != null
  endpoint_instance_type = local.serverless ? "serverless" : var.production_variant.InstanceType
  # The instance type the launcher picks the serving image (CPU or GPU build) for. Serverless Inference runs no
  # GPUs, so a serverless endpoint gets a CPU image: any CPU instance type picks the same one.
  serving_image_instance_type = local.serverless ? "ml.m5.large" : var.production_variant.InstanceType

  # The customer key goes on the endpoint's ML storage volume unless the instance type has local NVMe storage
  # ("If you specify a value for KmsKeyId when using any nitro-based instances with local storage, the call to
  # CreateEndpointConfig fails": https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html)
  # or the endpoint is serverless. The training volume gets the same rule in the state machine (WithCustomerKey),
  # from the same list: the launcher, not Terraform, picks the training instance type.
  endpoint_family     = local.serverless ? "" : split(".", var.production_variant.InstanceType)[1]
  endpoint_volume_key = var.kms_key_arn != null && !local.serverless && !contains(var.instance_store_families, local.endpoint_family)
  endpoint_config_shape = (
    local.serverless ? "serverless" : (local.endpoint_volume_key ? "provisioned-volume-key" : "provisioned")
  )
}

################################################################################
# Evaluation function
################################################################################

module "evaluate_model" {
  source = "../lambda_function"

  function_name = "${var.name_prefix}-evaluate-model"
  description   = "Reads a training job's final metrics (DescribeTrainingJob) and returns the accuracy the gate compares."
  zip_path      = "${var.lambda_artifacts_dir}/evaluate_model.zip"
  memory_size   = 256
  timeout       = 30

  environment = {}
  policy_json = data.aws_iam_policy_document.evaluate_model.json

  powertools_service_name      = "evaluate_model"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "evaluate_model" {
  statement {
    sid       = "DescribePipelineTrainingJobs"
    effect    = "Allow"
    actions   = ["sagemaker:DescribeTrainingJob"]
    resources = [local.training_job_arns]
  }
}

################################################################################
# Model registry and smoke test
################################################################################

# Every model version that passes the gate is registered here by the pipeline (RegisterModelVersion); the versions
# belong to the pipeline, the group to Terraform. See README, "Registry, approval, rollout".
resource "aws_sagemaker_model_package_group" "this" {
  model_package_group_name        = local.model_package_group_name
  model_package_group_description = "Model versions of ${local.state_machine_name}: each training job that passed the accuracy gate, with its metrics, confidence threshold and baseline."

  tags = var.tags
}

module "smoke_test" {
  source = "../lambda_function"

  function_name = "${var.name_prefix}-smoke-test"
  description   = "Sends known test images through the endpoint after each deployment; every answer must be the new model version's."
  zip_path      = "${var.lambda_artifacts_dir}/smoke_test.zip"
  memory_size   = 256
  timeout       = 60

  environment = {
    CLASS_LABELS      = join(",", var.class_labels)
    SMOKE_TEST_IMAGES = tostring(var.smoke_test_images)
  }
  policy_json = data.aws_iam_policy_document.smoke_test.json

  powertools_service_name      = "smoke_test"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "smoke_test" {
  statement {
    # With ListBucket a missing test.lst is answered NoSuchKey rather than AccessDenied, so the smoke test's
    # SmokeTestImagesMissing says what is wrong.
    sid       = "ListTestImages"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.data_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.dataset_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadTestImages"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.data_bucket_arn}/${var.dataset_prefix}/*"]
  }

  statement {
    sid       = "AskTheNewModel"
    effect    = "Allow"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [local.endpoint_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "ReadWithTheBucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

################################################################################
# Notifications
################################################################################

resource "aws_sns_topic" "notifications" {
  name              = "${var.name_prefix}-training-pipeline"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notification_emails)

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# State machine
################################################################################

resource "aws_sfn_state_machine" "this" {
  name     = local.state_machine_name
  type     = "STANDARD" # .sync training jobs need a Standard workflow
  role_arn = aws_iam_role.state_machine.arn

  # Numbers go in as strings (the ASL converts them with States.StringToJson), so the template is valid JSON
  # before rendering. Decoded and re-encoded so that whitespace and key order never show up as a plan diff.
  # The production variant's fields the other shape lacks render as null: that Pass state is never entered.
  definition = jsonencode(jsondecode(templatefile(local.definition_path, {
    name_prefix                = var.name_prefix
    accuracy_threshold         = tostring(var.accuracy_threshold)
    endpoint_poll_seconds      = tostring(var.endpoint_poll_seconds)
    endpoint_name              = local.endpoint_name
    endpoint_mode              = local.serverless ? "serverless" : "provisioned"
    endpoint_instance_type     = local.endpoint_instance_type
    endpoint_config_shape      = local.endpoint_config_shape
    variant_name               = var.production_variant.VariantName
    initial_instance_count     = local.serverless ? "null" : tostring(var.production_variant.InitialInstanceCount)
    initial_variant_weight     = tostring(coalesce(var.production_variant.InitialVariantWeight, 1))
    serverless_memory_size_mb  = local.serverless ? tostring(var.production_variant.ServerlessConfig.MemorySizeInMB) : "null"
    serverless_max_concurrency = local.serverless ? tostring(var.production_variant.ServerlessConfig.MaxConcurrency) : "null"
    capture_enabled            = tostring(var.capture_percentage != null)
    capture_percentage         = tostring(coalesce(var.capture_percentage, 0))
    kms_key_arn                = var.kms_key_arn == null ? "" : var.kms_key_arn
    instance_store_families    = join(",", var.instance_store_families)

    model_package_group_name  = aws_sagemaker_model_package_group.this.model_package_group_name
    initial_approval_status   = var.require_approval ? "PendingManualApproval" : "Approved"
    approval_timeout_seconds  = tostring(var.approval_timeout_hours * 3600)
    deployment_strategy       = var.deployment_strategy
    traffic_step_percent      = tostring(var.deployment.traffic_step_percent)
    wait_interval_seconds     = tostring(var.deployment.wait_interval_seconds)
    termination_wait_seconds  = tostring(var.deployment.termination_wait_seconds)
    maximum_execution_seconds = tostring(var.deployment.maximum_execution_timeout_seconds)
    rollback_alarm_names      = join(",", var.rollback_alarm_names)
    smoke_test_function_arn   = module.smoke_test.function_arn

    capture_s3_uri               = local.capture_s3_uri
    baseline_s3_uri              = local.baseline_s3_uri
    model_output_s3_uri          = local.model_output_s3_uri
    model_output_bucket          = var.data_bucket_name
    model_output_prefix          = var.model_prefix
    sagemaker_execution_role_arn = aws_iam_role.sagemaker.arn
    evaluate_function_arn        = module.evaluate_model.function_arn
    write_baseline_function_arn  = var.write_baseline_function_arn
    notification_topic_arn       = aws_sns_topic.notifications.arn
  })))

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level                  = var.execution_log_level
    include_execution_data = true # inputs are settings and metrics, never data
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  # Step Functions checks at creation that the role can deliver logs and invoke the tasks.
  depends_on = [aws_iam_role_policy.state_machine]

  lifecycle {
    precondition {
      condition     = !local.serverless || var.capture_percentage == null
      error_message = "A serverless production_variant cannot capture data (Serverless Inference supports no data capture): capture_percentage must be null."
    }

    precondition {
      condition     = !local.guarded_rollout || length(var.rollback_alarm_names) >= 1
      error_message = "deployment_strategy = ${var.deployment_strategy} needs rollback_alarm_names: without alarms nothing can roll a bad version back (SageMaker, \"Auto-Rollback Configuration and Monitoring\")."
    }

    precondition {
      condition     = var.deployment_strategy != "linear" || var.deployment.traffic_step_percent >= 10
      error_message = "A linear rollout's steps must be 10-50 % of the fleet (API_TrafficRoutingConfig, LinearStepSize): deployment.traffic_step_percent = ${var.deployment.traffic_step_percent}."
    }

    precondition {
      condition     = !local.guarded_rollout || var.deployment.maximum_execution_timeout_seconds > var.deployment.termination_wait_seconds + var.deployment.wait_interval_seconds * (var.deployment_strategy == "linear" ? ceil(100 / var.deployment.traffic_step_percent) : 1)
      error_message = "deployment.maximum_execution_timeout_seconds must be larger than the rollout's waits added up (API_BlueGreenUpdatePolicy), or every rollout is rolled back."
    }
  }
}

# Step Functions vended logs go to a group under /aws/vendedlogs/ (see the inference_workflow module).
resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_158:Execution logs carry no execution data (log_execution_data is off by default); CloudWatch's default encryption applies
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (validated), not a fixed year
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

################################################################################
# Optional: launch a training run on apply
################################################################################

resource "terraform_data" "launch" {
  count = var.launch_on_apply ? 1 : 0

  # A new run when the pipeline, the dataset or the training code changes.
  triggers_replace = {
    state_machine = aws_sfn_state_machine.this.arn
    definition    = sha256(aws_sfn_state_machine.this.definition)
    dataset       = "s3://${var.data_bucket_name}/${var.dataset_prefix}"
    algorithm     = var.launch_algorithm
    code = sha256(join(",", [
      for file in sort(fileset("${local.launcher_working_dir}/training/sourcedir", "**/*.py")) :
      filesha256("${local.launcher_working_dir}/training/sourcedir/${file}")
    ]))
    hyperparameters = jsonencode(var.launch_hyperparameters)
    serving_image   = local.serving_image_instance_type
  }

  provisioner "local-exec" {
    working_dir = local.launcher_working_dir
    command = join(" ", concat(
      [
        var.launcher_python, "-m", "training.launch",
        "--state-machine-arn", aws_sfn_state_machine.this.arn,
        "--bucket", var.data_bucket_name,
        "--dataset-prefix", var.dataset_prefix,
        "--algorithm", var.launch_algorithm,
        "--code-s3-uri", local.code_s3_uri,
        "--instance-type", var.training_instance_type,
        # The serving image is built for the instance type Terraform deploys the endpoint on; the pipeline's
        # CheckServingImage state refuses a run whose image was chosen for another one.
        "--inference-instance-type", local.serving_image_instance_type,
        "--region", data.aws_region.current.name,
      ],
      [for key, value in var.launch_hyperparameters : format("--hyperparameter %q", "${key}=${value}")],
    ))
  }
}
