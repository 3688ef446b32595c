# modules/lambda_function on its own, with a mocked AWS provider (no AWS calls, no credentials).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "ap-southeast-2" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  # The mock's random strings are not JSON, and the provider validates role policies: hand it an empty
  # policy. The real rendered JSON is checked in iam_policies.tftest.hcl.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/cv-resize-role" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:ap-southeast-2:123456789012:log-group:/aws/lambda/cv-resize" }
  }
}

variables {
  function_name            = "cv-resize"
  description              = "Test function."
  zip_path                 = "tests/fixtures/serialize_image.zip"
  powertools_layer_version = 27
  log_retention_days       = 14
  environment = {
    MAX_IMAGE_BYTES = "1024"
  }
}

run "builds_the_powertools_layer_arn_for_the_region" {
  assert {
    condition     = aws_lambda_function.this.layers == tolist(["arn:aws:lambda:ap-southeast-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"])
    error_message = "The function must get the Powertools layer of its own region, python311, x86_64, version 27; got ${jsonencode(aws_lambda_function.this.layers)}."
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.11" && aws_lambda_function.this.architectures == tolist(["x86_64"]) && aws_lambda_function.this.handler == "app.lambda_handler"
    error_message = "The function must run app.lambda_handler on python3.11, x86_64 (docs/conventions.md)."
  }
}

run "attaches_no_layer_without_a_version" {
  variables {
    powertools_layer_version = null
  }

  assert {
    condition     = length(aws_lambda_function.this.layers) == 0
    error_message = "powertools_layer_version = null must attach no layer (the embedded AWS cannot resolve AWS-managed layers)."
  }
}

run "deploys_the_zip_it_is_given" {
  assert {
    condition     = aws_lambda_function.this.filename == "tests/fixtures/serialize_image.zip" && aws_lambda_function.this.source_code_hash == filebase64sha256("tests/fixtures/serialize_image.zip")
    error_message = "source_code_hash must be the zip's hash, so that a rebuilt zip redeploys the function and an unchanged one does not."
  }
}

run "merges_powertools_settings_into_the_environment" {
  variables {
    environment = {
      MAX_IMAGE_BYTES      = "1024"
      POWERTOOLS_LOG_LEVEL = "DEBUG"
    }
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      MAX_IMAGE_BYTES              = "1024"
      POWERTOOLS_SERVICE_NAME      = "cv-resize"
      POWERTOOLS_METRICS_NAMESPACE = "cv-resize"
      POWERTOOLS_LOG_LEVEL         = "DEBUG"
    })
    error_message = "The environment must hold the caller's variables plus POWERTOOLS_SERVICE_NAME/METRICS_NAMESPACE, the caller winning on conflicts; got ${jsonencode(aws_lambda_function.this.environment[0].variables)}."
  }
}

run "creates_its_log_group_with_retention" {
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/cv-resize" && aws_cloudwatch_log_group.this.retention_in_days == 14
    error_message = "The log group must be /aws/lambda/<function_name> with the requested retention, or Lambda creates one that never expires."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "LambdaWriteOwnLogs"][0] == toset(["arn:aws:logs:ap-southeast-2:123456789012:log-group:/aws/lambda/cv-resize:*"])
    error_message = "The logging permission must be scoped to the function's own log group."
  }

  assert {
    condition     = aws_iam_role_policy.this.role == aws_iam_role.this.id && aws_iam_role_policy.this.policy == data.aws_iam_policy_document.this.json
    error_message = "The role must carry the module's policy document."
  }
}

run "traces_with_xray" {
  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "Tracing must be Active by default."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.actions if s.sid == "LambdaSendTraces"][0] == toset(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
    error_message = "The role must be allowed to send traces, and nothing more in that statement."
  }
}

run "adds_the_extra_policy_only_when_given" {
  variables {
    policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Extra\",\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::bucket/incoming/*\"}]}"
  }

  assert {
    condition     = data.aws_iam_policy_document.this.source_policy_documents == tolist([var.policy_json])
    error_message = "policy_json must be merged into the role's policy."
  }
}

run "adds_no_extra_policy_by_default" {
  assert {
    condition     = length(data.aws_iam_policy_document.this.source_policy_documents) == 0
    error_message = "Without policy_json the role gets only logging and tracing."
  }

  assert {
    condition     = contains([for p in data.aws_iam_policy_document.assume_role.statement[0].principals : p.identifiers][0], "lambda.amazonaws.com")
    error_message = "Only the Lambda service may assume the function's role."
  }
}

run "rejects_memory_timeout_and_retention_out_of_range" {
  command = plan

  variables {
    memory_size        = 64
    timeout            = 901
    log_retention_days = 2
  }

  expect_failures = [
    var.memory_size,
    var.timeout,
    var.log_retention_days,
  ]
}
