# The review console: the web page people use to decide the images on the human-review queue.
# Cognito user pool (reviewers) -> page served by the review_console function URL (AuthType NONE, every API call's
# access token checked with Cognito in the function) -> DynamoDB (leases, one claim per decision) -> decision bus,
# review records and ground truth in S3 -> the queue message deleted.

data "aws_region" "current" {}

locals {
  function_name     = "${var.name_prefix}-review-console"
  image_object_arns = [for prefix in var.image_prefixes : "${var.data_bucket_arn}/${prefix}*"]
  data_bucket_name  = replace(var.data_bucket_arn, "/^arn:[^:]+:s3:::/", "")
  # s3://<bucket>/<prefix> of the monitoring module's ground truth.
  ground_truth_bucket = split("/", trimprefix(var.ground_truth_s3_uri, "s3://"))[0]
  ground_truth_prefix = trim(join("/", slice(split("/", trimprefix(var.ground_truth_s3_uri, "s3://")), 1, length(split("/", trimprefix(var.ground_truth_s3_uri, "s3://"))))), "/")
  records_prefix      = trim(var.review_records_prefix, "/")
  scripts_working_dir = coalesce(var.scripts_working_dir, abspath("${path.module}/../../.."))
}

################################################################################
# Reviewers: a Cognito user pool, users created by an administrator only
################################################################################

resource "aws_cognito_user_pool" "reviewers" {
  name = "${var.name_prefix}-reviewers"

  # Reviewers are added by an administrator (README: AdminCreateUser); nobody signs themselves up.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 7
  }

  mfa_configuration = var.mfa_configuration
  dynamic "software_token_mfa_configuration" {
    for_each = var.mfa_configuration == "OFF" ? [] : [true]
    content {
      enabled = true
    }
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "admin_only"
      priority = 1
    }
  }

  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  tags = var.tags
}

# The page logs in with USER_PASSWORD_AUTH (InitiateAuth) and sends the access token; no client secret, as a
# browser cannot keep one.
resource "aws_cognito_user_pool_client" "console" {
  name         = "${var.name_prefix}-review-console"
  user_pool_id = aws_cognito_user_pool.reviewers.id

  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.access_token_validity_minutes
  refresh_token_validity = 1
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

################################################################################
# Leases and decisions: one DynamoDB table (pk lease#<review id> | decision#<decision key>)
################################################################################

resource "aws_dynamodb_table" "reviews" {
  name         = "${var.name_prefix}-reviews"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  # Leases expire a day after their lease; decision claims carry no ttl and stay (they keep decisions single).
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = var.deletion_protection

  tags = var.tags
}

################################################################################
# The function and its URL
################################################################################

module "function" {
  source = "../lambda_function"

  function_name = local.function_name
  description   = "Review console (function URL, Cognito-authenticated): leases queued images to reviewers and publishes their decisions."
  zip_path      = "${var.lambda_artifacts_dir}/review_console.zip"
  memory_size   = 256
  timeout       = 15

  environment = {
    REVIEW_QUEUE_URL      = var.review_queue_url
    REVIEW_TABLE          = aws_dynamodb_table.reviews.name
    DECISION_BUS          = var.decision_bus_arn
    DECISION_EVENT_SOURCE = var.decision_event_source
    DECISION_DETAIL_TYPE  = var.decision_detail_type
    LABEL_ROUTES          = jsonencode(var.label_routes)
    RECORDS_BUCKET        = local.data_bucket_name
    REVIEW_RECORDS_PREFIX = local.records_prefix
    GROUND_TRUTH_S3_URI   = var.ground_truth_s3_uri
    USER_POOL_ID          = aws_cognito_user_pool.reviewers.id
    USER_POOL_CLIENT_ID   = aws_cognito_user_pool_client.console.id
    LEASE_SECONDS         = tostring(var.review_lease_seconds)
  }
  policy_json = data.aws_iam_policy_document.function.json

  powertools_service_name      = "review_console"
  powertools_metrics_namespace = var.metrics_namespace
  powertools_layer_version     = var.powertools_layer_version
  log_retention_days           = var.log_retention_days
  tags                         = var.tags
}

# NONE: Lambda authenticates nothing; the function checks the Cognito access token of every API call itself
# and the page carries no image (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, "Using the NONE
# auth type").
resource "aws_lambda_function_url" "console" {
  #checkov:skip=CKV_AWS_258:A browser cannot SigV4-sign for AWS_IAM; reviewers authenticate with Cognito, and the function checks the access token of every API call (401 otherwise); the page itself carries no image or data
  function_name      = module.function.function_name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

# With NONE the function's resource-based policy must grant public access: lambda:InvokeFunctionUrl with
# lambda:FunctionUrlAuthType = NONE, and, for URLs created since October 2025, lambda:InvokeFunction with
# lambda:InvokedViaFunctionUrl = true (urls-auth.html). The first statement, FunctionURLAllowPublicAccess, is
# added by aws_lambda_function_url itself for a NONE URL (hashicorp/aws 5.x sends that AddPermission when it
# creates the URL, as the Lambda console does); an aws_lambda_permission with the same statement id would
# collide with it (ResourceConflictException on AWS), so there is none here.
# The second statement needs AddPermission's InvokedViaFunctionUrl, which hashicorp/aws 5.x cannot set
# (aws_lambda_permission gained invoked_via_function_url in 6.29.0), and without that condition the statement
# would let anyone call Invoke directly. scripts/function_url_permission adds it with boto3, as
# `aws lambda add-permission --invoked-via-function-url` would; it goes with the function when that is deleted.
resource "terraform_data" "invoke_via_url" {
  triggers_replace = {
    function_arn = module.function.function_arn
    url          = aws_lambda_function_url.console.function_url
  }

  provisioner "local-exec" {
    working_dir = local.scripts_working_dir
    command = join(" ", [
      var.permission_python, "scripts/function_url_permission",
      "--function-name", module.function.function_name,
      "--statement-id", "FunctionURLInvokeAllowPublicAccess",
      "--region", data.aws_region.current.name,
    ])
  }
}
