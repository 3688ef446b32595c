# The courier vehicle classifier, in the order data flows through it:
# storage -> dataset -> training_pipeline (+ write_baseline) -> endpoint -> inference_workflow -> monitoring
# -> review_console (people decide what the model was unsure of; their labels are the ground truth).
# One block per module; each module's outputs that people need are in outputs.tf.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  tags = merge(
    {
      Project   = var.name_prefix
      ManagedBy = "terraform"
    },
    var.tags,
  )

  lambda_artifacts_dir = coalesce(var.lambda_artifacts_dir, "${path.root}/../build/lambdas")
  # The embedded AWS accepts the AWS-managed Powertools layer and supplies its packages locally, so functions
  # get the same layer everywhere: a function that forgets the layer fails locally as it would on AWS.
  powertools_layer_version = var.powertools_layer_version

  # Resources that need a live endpoint wait for the pipeline's first deployment (see modules/endpoint).
  endpoint_exists = var.endpoint_exists || var.launch_on_apply

  # Bucket names are global: the account and region keep two stacks with the same prefix apart.
  bucket_suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"

  # Where decided reviews are stored in the data bucket (shared.reviews.review_record_key): the review console
  # writes them, the ETL (--add-reviewed) and the retrain guard read them.
  review_records_prefix = "reviews"
}

module "storage" {
  source = "./modules/storage"

  data_bucket_name       = "${var.name_prefix}-data-${local.bucket_suffix}"
  capture_bucket_name    = "${var.name_prefix}-capture-${local.bucket_suffix}"
  kms_key_arn            = var.kms_key_arn
  capture_retention_days = var.capture_retention_days
  force_destroy          = var.force_destroy_buckets

  tags = local.tags
}

module "dataset" {
  source = "./modules/dataset"

  enabled     = var.load_dataset_on_apply
  repo_root   = abspath("${path.root}/..")
  source_uri  = var.dataset_source
  bucket_name = module.storage.data_bucket_name
  prefix      = var.dataset_prefix
  classes     = var.class_labels
}

module "training_pipeline" {
  source = "./modules/training_pipeline"

  name_prefix          = var.name_prefix
  lambda_artifacts_dir = local.lambda_artifacts_dir

  data_bucket_name    = module.storage.data_bucket_name
  data_bucket_arn     = module.storage.data_bucket_arn
  capture_bucket_name = module.storage.capture_bucket_name
  capture_bucket_arn  = module.storage.capture_bucket_arn
  kms_key_arn         = var.kms_key_arn
  dataset_prefix      = var.dataset_prefix
  baseline_s3_uri     = module.monitoring.baseline_s3_uri

  # What every endpoint config gets (instance type and count, or serverless; data capture), as modules/endpoint
  # decides it. The launcher run on apply picks its serving image for the same instance type.
  endpoint_name               = module.endpoint.endpoint_name
  production_variant          = module.endpoint.production_variant
  capture_percentage          = module.endpoint.data_capture_percentage
  accuracy_threshold          = var.accuracy_threshold
  endpoint_poll_seconds       = var.endpoint_poll_seconds
  write_baseline_function_arn = module.write_baseline.function_arn
  notification_emails         = var.notification_emails
  training_instance_type      = var.training_instance_type
  launch_on_apply             = var.launch_on_apply

  # Safe deployments: every gated version registered; approval optional; canary/linear rollouts roll back on the
  # endpoint's alarms (modules/monitoring); a smoke test with known test images before success.
  require_approval       = var.require_approval
  approval_timeout_hours = var.approval_timeout_hours
  deployment_strategy    = var.deployment_strategy
  deployment             = var.deployment
  rollback_alarm_names   = module.monitoring.deployment_alarm_names
  class_labels           = var.class_labels

  powertools_layer_version = local.powertools_layer_version
  log_retention_days       = var.log_retention_days

  tags = local.tags

  depends_on = [module.dataset]
}

# The pipeline's last deploy step: the monitoring baseline, from the test images sent through the new model.
module "write_baseline" {
  source = "./modules/lambda_function"

  function_name            = "${var.name_prefix}-write-baseline"
  description              = "Writes the Model Monitor baseline of the model the training pipeline just deployed."
  zip_path                 = "${local.lambda_artifacts_dir}/write_baseline.zip"
  memory_size              = 1024
  timeout                  = 600
  log_retention_days       = var.log_retention_days
  powertools_layer_version = local.powertools_layer_version
  policy_json              = data.aws_iam_policy_document.write_baseline.json
  environment              = { MAX_BASELINE_IMAGES = "1000" }

  tags = local.tags
}

data "aws_iam_policy_document" "write_baseline" {
  statement {
    sid       = "ListTestImages"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.data_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.dataset_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadTestImages"
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.data_bucket_arn}/${var.dataset_prefix}/*"]
  }
  statement {
    sid       = "WriteBaseline"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.data_bucket_arn}/${module.monitoring.baseline_s3_prefix}/*"]
  }
  statement {
    sid       = "AskTheNewModel"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [module.endpoint.endpoint_arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseTheBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

module "endpoint" {
  source = "./modules/endpoint"

  name_prefix            = var.name_prefix
  endpoint_name          = var.endpoint_name
  instance_type          = var.endpoint_instance_type
  initial_instance_count = var.endpoint_initial_instance_count
  serverless             = var.endpoint_serverless
  capture_percentage     = var.capture_percentage
  autoscaling            = var.endpoint_autoscaling
  endpoint_exists        = local.endpoint_exists
  deployment_trigger     = module.training_pipeline.launch_id

  # Cost guard (opt-in): terraform destroy deletes the endpoint, its configs and models, and the registry's versions.
  destroy_deletes_endpoint = var.destroy_deletes_endpoint
  model_package_group_name = module.training_pipeline.model_package_group_name
  cleanup_python           = var.cleanup_python

  tags = local.tags
}

module "inference_workflow" {
  source = "./modules/inference_workflow"

  name_prefix          = var.name_prefix
  lambda_artifacts_dir = local.lambda_artifacts_dir
  workflow_type        = var.inference_workflow_type

  data_bucket_arn = module.storage.data_bucket_arn
  image_prefixes  = var.inference_image_prefixes
  kms_key_arn     = var.kms_key_arn

  endpoint_name        = module.endpoint.endpoint_name
  class_labels         = var.class_labels
  label_routes         = var.label_routes
  confidence_threshold = var.confidence_threshold
  audit_sample_rate    = var.audit_sample_rate
  max_image_bytes      = var.max_image_bytes
  max_image_pixels     = var.max_image_pixels

  lambda_memory_mb         = var.lambda_memory_mb
  lambda_timeout_seconds   = var.lambda_timeout_seconds
  powertools_layer_version = local.powertools_layer_version
  log_retention_days       = var.log_retention_days

  probe_enabled          = var.probe_enabled
  probe_interval_minutes = var.probe_interval_minutes
  probe_images           = var.probe_images

  tags = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix           = var.name_prefix
  endpoint_name         = module.endpoint.endpoint_name
  endpoint_variant_name = module.endpoint.variant_name
  endpoint_exists       = local.endpoint_exists && module.endpoint.data_capture_enabled

  data_bucket_name    = module.storage.data_bucket_name
  capture_bucket_name = module.storage.capture_bucket_name
  # The prefix the pipeline's endpoint captures to (its capture_s3_uri is s3://<capture bucket>/<prefix>).
  capture_prefix    = trimprefix(module.training_pipeline.capture_s3_uri, "s3://${module.storage.capture_bucket_name}/")
  kms_key_arn       = var.kms_key_arn
  class_labels      = var.class_labels
  monitoring_engine = var.monitoring_engine

  pipeline_state_machine_arn  = module.training_pipeline.state_machine_arn
  inference_state_machine_arn = module.inference_workflow.state_machine_arn
  lambda_function_names = concat(values(module.inference_workflow.function_names), [
    module.training_pipeline.evaluate_function_name, module.write_baseline.function_name,
  ])
  metrics_namespace            = var.name_prefix
  routes                       = distinct(values(var.label_routes))
  human_review_share_threshold = var.human_review_share_threshold
  endpoint_error_rate_percent  = var.endpoint_error_rate_percent
  # Model quality from reviewers' labels, and audit samples the workflow could not queue.
  served_accuracy_alarm_threshold      = var.served_accuracy_alarm_threshold
  auto_route_precision_alarm_threshold = var.auto_route_precision_alarm_threshold
  audit_metric_service                 = module.inference_workflow.audit_metric_service
  # A serverless endpoint bills nothing while idle: no idle alarm for it.
  idle_endpoint_hours    = module.endpoint.serverless ? null : var.idle_endpoint_hours
  auto_retrain_enabled   = var.auto_retrain_enabled
  retrain_min_new_labels = var.retrain_min_new_labels
  alarm_subscriptions    = var.alarm_subscriptions
  probe_enabled          = var.probe_enabled
  probe_interval_minutes = var.probe_interval_minutes
  # serialize_image raises on bad input (InvalidImage, ImageNotFound...): its alarm counts the other errors.
  input_rejecting_function_name = module.inference_workflow.function_names["serialize_image"]
  api_function_name             = module.inference_workflow.api_function_name

  lambda_artifacts_dir     = local.lambda_artifacts_dir
  powertools_layer_version = local.powertools_layer_version
  log_retention_days       = var.log_retention_days

  tags = local.tags
}

# People close the loop: the images on the human-review queue, decided in a web page; each decision is published
# on the decision bus, stored as a review record and, for a vehicle, as ground truth for modules/monitoring.
module "review_console" {
  source = "./modules/review_console"

  name_prefix          = var.name_prefix
  lambda_artifacts_dir = local.lambda_artifacts_dir

  review_queue_url      = module.inference_workflow.human_review_queue_url
  review_queue_arn      = module.inference_workflow.human_review_queue_arn
  decision_bus_arn      = module.inference_workflow.decision_bus_arn
  decision_event_source = module.inference_workflow.decision_event_source
  decision_detail_type  = module.inference_workflow.decision_detail_type
  label_routes          = var.label_routes

  data_bucket_arn       = module.storage.data_bucket_arn
  image_prefixes        = var.inference_image_prefixes
  review_records_prefix = local.review_records_prefix
  ground_truth_s3_uri   = module.monitoring.ground_truth_s3_uri
  kms_key_arn           = var.kms_key_arn

  review_lease_seconds          = var.review_lease_seconds
  password_minimum_length       = var.reviewer_password_minimum_length
  access_token_validity_minutes = var.reviewer_token_validity_minutes
  permission_python             = var.function_url_permission_python

  metrics_namespace        = var.name_prefix
  powertools_layer_version = local.powertools_layer_version
  log_retention_days       = var.log_retention_days

  tags = local.tags
}
