# One provider for both targets: a real AWS account (aws_endpoint_url = null, credentials from the
# environment) or the embedded AWS of scripts/local_aws (aws_endpoint_url = its URL).

locals {
  use_local_endpoint = var.aws_endpoint_url != null
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }

  # Only for the embedded AWS: path-style S3 URLs (no bucket subdomains on localhost), and no calls that only
  # real AWS answers. The account ID is still requested (from the local STS) because ARNs are built from it.
  s3_use_path_style           = local.use_local_endpoint
  skip_credentials_validation = local.use_local_endpoint
  skip_metadata_api_check     = local.use_local_endpoint ? "true" : null
  skip_region_validation      = local.use_local_endpoint
  skip_requesting_account_id  = false
  # A local AWS answers at once or not at all: fail after a couple of tries instead of backing off for minutes.
  max_retries = local.use_local_endpoint ? 2 : null

  dynamic "endpoints" {
    for_each = local.use_local_endpoint ? [var.aws_endpoint_url] : []

    content {
      applicationautoscaling = endpoints.value
      cloudwatch             = endpoints.value
      cognitoidp             = endpoints.value
      dynamodb               = endpoints.value
      ecr                    = endpoints.value
      events                 = endpoints.value
      iam                    = endpoints.value
      kms                    = endpoints.value
      lambda                 = endpoints.value
      logs                   = endpoints.value
      s3                     = endpoints.value
      sagemaker              = endpoints.value
      scheduler              = endpoints.value
      sfn                    = endpoints.value
      sns                    = endpoints.value
      sqs                    = endpoints.value
      sts                    = endpoints.value
    }
  }
}
