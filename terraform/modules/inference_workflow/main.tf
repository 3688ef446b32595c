# The inference workflow: serialize_image -> classify_image -> filter_inferences, orchestrated by the state
# machine in inference.asl.json, with a human-review queue for images the model is unsure about.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  state_machine_name = "${var.name_prefix}-inference"
  # Every decision (nearby, distant, human_review) is published with this source and detail-type.
  decision_event_source = "${var.name_prefix}.inference"
  decision_detail_type  = "Courier Vehicle Decision"
  # The state machine's own metric (AuditSampleNotQueued) is published in the functions' namespace with this
  # service dimension (inference.asl.json, CountAuditSampleNotQueued).
  audit_metric_service = "inference_workflow"
  definition_path      = coalesce(var.definition_path, "${path.module}/../../../inference.asl.json")

  # SageMaker lowercases endpoint names in ARNs.
  endpoint_arn = format(
    "arn:%s:sagemaker:%s:%s:endpoint/%s",
    data.aws_partition.current.partition,
    data.aws_region.current.name,
    data.aws_caller_identity.current.account_id,
    lower(var.endpoint_name),
  )

  image_object_arns = [for prefix in var.image_prefixes : "${var.data_bucket_arn}/${prefix}*"]
  data_bucket_name  = replace(var.data_bucket_arn, "/^arn:[^:]+:s3:::/", "")

  # Images sent to the HTTPS API are stored under the first image prefix, where serialize_image may read them;
  # so are the probe's known images.
  api_upload_prefix = "${var.image_prefixes[0]}api/"
  probe_prefix      = "${var.image_prefixes[0]}probes/"
  probe_images      = { for name, route in var.probe_images : "${local.probe_prefix}${name}" => route }
  probe_schedule    = var.probe_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.probe_interval_minutes} minutes)"

  # The workflow's three steps (the state machine invokes exactly these).
  functions = {
    serialize_image   = module.serialize_image
    classify_image    = module.classify_image
    filter_inferences = module.filter_inferences
  }
  # Every function of the module, for logs, alarms and outputs.
  all_functions = merge(
    local.functions,
    { for api in module.inference_api : "inference_api" => api },
    { for probe in module.inference_probe : "inference_probe" => probe },
  )
}

################################################################################
# Functions (environment per docs/conventions.md)
################################################################################

module "serialize_image" {
  source = "../lambda_function"

  function_name = "${var.name_prefix}-serialize-image"
  description   = "Reads an image from S3, checks it is a PNG/JPEG and downsizes it to fit the Step Functions payload."
  zip_path      = "${var.lambda_artifacts_dir}/serialize_image.zip"
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds

  environment = {
    MAX_IMAGE_BYTES  = tostring(var.max_image_bytes)
    MAX_IMAGE_PIXELS = tostring(var.max_image_pixels)
  }
  policy_json = data.aws_iam_policy_document.serialize_image.json

  powertools_service_name      = "serialize_image"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "serialize_image" {
  statement {
    sid       = "ReadImagesToClassify"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = local.image_object_arns
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "DecryptImagesToClassify"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

module "classify_image" {
  source = "../lambda_function"

  function_name = "${var.name_prefix}-classify-image"
  description   = "Sends the serialized image to the SageMaker endpoint and returns one confidence per class label."
  zip_path      = "${var.lambda_artifacts_dir}/classify_image.zip"
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds

  environment = {
    ENDPOINT_NAME      = var.endpoint_name
    CLASS_LABELS       = join(",", var.class_labels)
    MODEL_CONTENT_TYPE = "application/x-image"
  }
  policy_json = data.aws_iam_policy_document.classify_image.json

  powertools_service_name      = "classify_image"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "classify_image" {
  statement {
    sid       = "InvokeClassifierEndpoint"
    effect    = "Allow"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [local.endpoint_arn]
  }
}

module "filter_inferences" {
  source = "../lambda_function"

  function_name = "${var.name_prefix}-filter-inferences"
  description   = "Picks the top class and its route, or human_review below the confidence threshold (a route, not an error)."
  zip_path      = "${var.lambda_artifacts_dir}/filter_inferences.zip"
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds

  # CONFIDENCE_THRESHOLD only as an override: without it the function applies the threshold the model chose in
  # training, which classify_image reads from the model's answer.
  # AUDIT_SAMPLE_RATE: the share of confident, automatic routes also queued for review (AuditSample).
  environment = merge(
    { LABEL_ROUTES = jsonencode(var.label_routes), AUDIT_SAMPLE_RATE = tostring(var.audit_sample_rate) },
    var.confidence_threshold == null ? {} : { CONFIDENCE_THRESHOLD = tostring(var.confidence_threshold) },
  )
  # Pure computation on its input: no permissions beyond its own logs and traces.
  policy_json = null

  powertools_service_name      = "filter_inferences"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

################################################################################
# Human-review queue (low confidence and unclassifiable images)
################################################################################

resource "aws_sqs_queue" "human_review_dlq" {
  name                      = "${var.name_prefix}-human-review-dlq"
  message_retention_seconds = var.human_review_retention_seconds
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn

  tags = var.tags
}

resource "aws_sqs_queue" "human_review" {
  name                      = "${var.name_prefix}-human-review"
  message_retention_seconds = var.human_review_retention_seconds
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn

  tags = var.tags

  lifecycle {
    # Owned by aws_sqs_queue_redrive_policy.human_review below.
    ignore_changes = [redrive_policy]
  }
}

# A separate resource rather than the queue's redrive_policy argument: it compares the policy as JSON, so a
# service that re-formats the document (the embedded AWS does) shows no perpetual diff.
resource "aws_sqs_queue_redrive_policy" "human_review" {
  queue_url = aws_sqs_queue.human_review.id

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.human_review_dlq.arn
    maxReceiveCount     = var.human_review_max_receive_count
  })
}

################################################################################
# Decisions: one EventBridge event per decision, on a bus the stack owns
################################################################################

resource "aws_cloudwatch_event_bus" "decisions" {
  name = "${var.name_prefix}-decisions"

  tags = var.tags
}

################################################################################
# State machine
################################################################################

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Execution data is left out of the logs on purpose: between serialize and classify it is the whole base64 image (log_execution_data turns it on)
  name     = local.state_machine_name
  type     = var.workflow_type
  role_arn = aws_iam_role.state_machine.arn

  # Decoded and re-encoded so that whitespace and key order in the file never show up as a plan diff.
  definition = jsonencode(jsondecode(templatefile(local.definition_path, {
    serialize_image_function_arn   = module.serialize_image.function_arn
    classify_image_function_arn    = module.classify_image.function_arn
    filter_inferences_function_arn = module.filter_inferences.function_arn
    human_review_queue_url         = aws_sqs_queue.human_review.url
    decision_bus_arn               = aws_cloudwatch_event_bus.decisions.arn
    decision_event_source          = local.decision_event_source
    decision_detail_type           = local.decision_detail_type
    metrics_namespace              = var.name_prefix
  })))

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level                  = var.execution_log_level
    include_execution_data = var.log_execution_data
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = alltrue([for label in var.class_labels : contains(keys(var.label_routes), label)])
      error_message = "label_routes must give a route to every label in class_labels; otherwise filter_inferences cannot route that class."
    }

    precondition {
      condition     = alltrue([for label in keys(var.label_routes) : contains(var.class_labels, label)])
      error_message = "label_routes names a label that is not in class_labels; the model never returns it."
    }
  }

  # Step Functions checks at creation that the role can deliver logs and invoke the tasks.
  depends_on = [aws_iam_role_policy.state_machine]
}

################################################################################
# Synchronous HTTPS entry point: a function URL (AWS_IAM auth) -> StartSyncExecution
################################################################################

module "inference_api" {
  source = "../lambda_function"
  count  = var.api_enabled ? 1 : 0

  function_name = "${var.name_prefix}-inference-api"
  description   = "HTTPS entry point (function URL, AWS_IAM): runs the inference workflow with StartSyncExecution and answers the route."
  zip_path      = "${var.lambda_artifacts_dir}/inference_api.zip"
  memory_size   = 256
  timeout       = var.api_timeout_seconds

  environment = {
    STATE_MACHINE_ARN       = aws_sfn_state_machine.this.arn
    UPLOAD_BUCKET           = local.data_bucket_name
    UPLOAD_PREFIX           = local.api_upload_prefix
    MAX_REQUEST_IMAGE_BYTES = tostring(var.api_max_image_bytes)
    # The answer must come before the function's own Timeout ends it.
    ANSWER_TIMEOUT_SECONDS = tostring(var.api_timeout_seconds - 3)
  }
  policy_json = data.aws_iam_policy_document.inference_api.json

  powertools_service_name      = "inference_api"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "inference_api" {
  statement {
    sid       = "RunTheWorkflowSynchronously"
    effect    = "Allow"
    actions   = ["states:StartSyncExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }

  statement {
    sid       = "StoreUploadedImages"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.data_bucket_arn}/${local.api_upload_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "EncryptUploadedImages"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# AWS_IAM: only signed requests of principals whose policies allow it get through (the caller policy below).
resource "aws_lambda_function_url" "api" {
  count = var.api_enabled ? 1 : 0

  function_name      = module.inference_api[0].function_name
  authorization_type = "AWS_IAM"
  invoke_mode        = "BUFFERED"
}

# What a caller (the courier app's role) needs: lambda:InvokeFunctionUrl, and since October 2025
# lambda:InvokeFunction through the URL too (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
data "aws_iam_policy_document" "api_caller" {
  count = var.api_enabled ? 1 : 0

  statement {
    sid       = "CallTheInferenceApi"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [module.inference_api[0].function_arn]

    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  statement {
    sid       = "InvokeThroughTheUrlOnly"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.inference_api[0].function_arn]

    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }
}

################################################################################
# Synthetic probe: known images through the whole workflow on a schedule, so breakage shows at zero traffic
################################################################################

module "inference_probe" {
  source = "../lambda_function"
  count  = var.probe_enabled ? 1 : 0

  function_name = "${var.name_prefix}-inference-probe"
  description   = "Runs the inference workflow on known probe images and reports a wrong route or a failure (ProbeFailures)."
  zip_path      = "${var.lambda_artifacts_dir}/inference_probe.zip"
  memory_size   = 256
  # Each image waits for its answer in turn (at most 60 s each).
  timeout = 60 * length(var.probe_images) + 30

  environment = {
    STATE_MACHINE_ARN      = aws_sfn_state_machine.this.arn
    PROBE_BUCKET           = local.data_bucket_name
    PROBE_IMAGES           = jsonencode(local.probe_images)
    ANSWER_TIMEOUT_SECONDS = "60"
  }
  policy_json = data.aws_iam_policy_document.inference_probe.json

  powertools_service_name      = "inference_probe"
  powertools_metrics_namespace = var.name_prefix
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

data "aws_iam_policy_document" "inference_probe" {
  statement {
    sid       = "RunTheWorkflowSynchronously"
    effect    = "Allow"
    actions   = ["states:StartSyncExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
}

resource "aws_cloudwatch_event_rule" "probe" {
  count = var.probe_enabled ? 1 : 0

  name                = "${var.name_prefix}-inference-probe"
  description         = "Every ${var.probe_interval_minutes} min: the known probe images through the inference workflow."
  schedule_expression = local.probe_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "probe" {
  count = var.probe_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.probe[0].name
  target_id = "inference-probe"
  arn       = module.inference_probe[0].function_arn

  # A late probe is worth nothing: the next one is due.
  retry_policy {
    maximum_event_age_in_seconds = 60 * var.probe_interval_minutes
    maximum_retry_attempts       = 0
  }
}

resource "aws_lambda_permission" "probe_schedule" {
  count = var.probe_enabled ? 1 : 0

  statement_id  = "AllowProbeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.inference_probe[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.probe[0].arn
}

# Probe images Terraform uploads (optional): file name => local path. Without them, place the images yourself
# (see README): until then the probe reports image_missing and its alarm says so.
resource "aws_s3_object" "probe_images" {
  for_each = var.probe_enabled ? var.probe_image_files : {}

  bucket       = local.data_bucket_name
  key          = "${local.probe_prefix}${each.key}"
  source       = each.value
  source_hash  = filemd5(each.value)
  content_type = endswith(lower(each.key), ".png") ? "image/png" : "image/jpeg"

  tags = var.tags
}
