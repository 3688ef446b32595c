# One Lambda function with its own role, log group and Powertools configuration.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # AWS publishes the Powertools layer in account 017000801446 of every commercial region, one layer per
  # Python version and architecture: https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer
  powertools_layer_arn = var.powertools_layer_version == null ? null : format(
    "arn:%s:lambda:%s:017000801446:layer:AWSLambdaPowertoolsPythonV3-%s-%s:%d",
    data.aws_partition.current.partition,
    data.aws_region.current.name,
    replace(var.runtime, ".", ""),
    var.architecture,
    var.powertools_layer_version,
  )

  environment = merge(
    {
      POWERTOOLS_SERVICE_NAME      = coalesce(var.powertools_service_name, var.function_name)
      POWERTOOLS_METRICS_NAMESPACE = coalesce(var.powertools_metrics_namespace, var.function_name)
      POWERTOOLS_LOG_LEVEL         = var.powertools_log_level
    },
    var.environment,
  )
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_115:Concurrency is a per-deployment choice; Step Functions and the endpoint bound the load, and a cap would turn bursts into throttles
  #checkov:skip=CKV_AWS_116:Every function is invoked synchronously by Step Functions, which retries and catches failures; a DLQ only applies to asynchronous invokes
  #checkov:skip=CKV_AWS_117:The functions reach only AWS APIs (S3, SageMaker runtime, Step Functions) and no VPC resources
  #checkov:skip=CKV_AWS_173:The environment holds names and thresholds, no secrets; Lambda encrypts it at rest with an AWS-managed key
  #checkov:skip=CKV_AWS_272:Zips are built from this repository by scripts/build_lambdas (deterministic); code signing needs a Signer profile per account, left to adopters
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  # -1: no reservation (the account's unreserved pool).
  reserved_concurrent_executions = var.reserved_concurrent_executions
  layers                         = local.powertools_layer_arn == null ? [] : [local.powertools_layer_arn]

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  # The log group must exist (with its retention) before the first invocation, or Lambda creates one that
  # never expires; the role's policy must exist before the function can write to it.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}
