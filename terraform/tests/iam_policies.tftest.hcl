# The IAM policies as AWS will receive them: real JSON rendered by the real AWS provider, decoded and checked.
#
# A mocked provider returns random strings for aws_iam_policy_document.json, so this file configures the real
# one, offline: fake credentials, no account lookup, no metadata API. aws_iam_policy_document, aws_region and
# aws_partition are computed locally; every managed resource and the caller identity are overridden, so the
# provider never calls AWS. A resource added to these modules needs an override_resource here too, or this
# test fails trying to reach AWS (it never succeeds in doing so: the credentials are fake).

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline-test"
  secret_key                  = "offline-test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = "true"
  skip_region_validation      = true
}

run "state_machine_role_invokes_exactly_the_three_functions" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    name_prefix          = "cv"
    lambda_artifacts_dir = "tests/fixtures"
    data_bucket_arn      = "arn:aws:s3:::cv-data"
    image_prefixes       = ["incoming/", "datasets/test/"]
    endpoint_name        = "cv-endpoint"
  }

  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }

  override_module {
    target = module.serialize_image
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-serialize-image"
      function_name  = "cv-serialize-image"
      log_group_name = "/aws/lambda/cv-serialize-image"
    }
  }

  override_module {
    target = module.classify_image
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-classify-image"
      function_name  = "cv-classify-image"
      log_group_name = "/aws/lambda/cv-classify-image"
    }
  }

  override_module {
    target = module.filter_inferences
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-filter-inferences"
      function_name  = "cv-filter-inferences"
      log_group_name = "/aws/lambda/cv-filter-inferences"
    }
  }

  override_resource {
    target = aws_sqs_queue.human_review
    values = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:cv-human-review"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review"
    }
  }

  override_resource {
    target = aws_sqs_queue.human_review_dlq
  }

  override_resource {
    target = aws_sqs_queue_redrive_policy.human_review
  }

  override_resource {
    target = aws_cloudwatch_log_group.state_machine
    values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vendedlogs/states/cv-inference" }
  }

  override_resource {
    target = aws_iam_role.state_machine
    values = { arn = "arn:aws:iam::123456789012:role/cv-inference-sfn" }
  }

  override_resource {
    target = aws_iam_role_policy.state_machine
  }

  override_resource {
    target = aws_sfn_state_machine.this
    values = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference" }
  }

  override_module {
    target = module.inference_api
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-inference-api"
      function_name  = "cv-inference-api"
      log_group_name = "/aws/lambda/cv-inference-api"
    }
  }

  override_resource {
    target = aws_lambda_function_url.api
  }

  override_module {
    target = module.inference_probe
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-inference-probe"
      function_name  = "cv-inference-probe"
      log_group_name = "/aws/lambda/cv-inference-probe"
    }
  }

  override_resource {
    target = aws_cloudwatch_event_rule.probe
    values = { arn = "arn:aws:events:eu-west-1:123456789012:rule/cv-inference-probe" }
  }

  override_resource {
    target = aws_cloudwatch_event_target.probe
  }

  override_resource {
    target = aws_lambda_permission.probe_schedule
  }

  override_resource {
    target = aws_cloudwatch_event_bus.decisions
    values = { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions" }
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "lambda:InvokeFunction")
      ])) == toset([
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-serialize-image",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-serialize-image:*",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-classify-image",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-classify-image:*",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-filter-inferences",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-filter-inferences:*",
    ])
    error_message = "The state machine may invoke the three workflow functions (and their versions/aliases) and nothing else; its policy is ${data.aws_iam_policy_document.state_machine.json}"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "sqs:SendMessage")
    ])) == toset(["arn:aws:sqs:eu-west-1:123456789012:cv-human-review"])
    error_message = "The state machine may send to the human-review queue only."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      { resource = statement.Resource, condition = statement.Condition } if contains(flatten([statement.Action]), "events:PutEvents")
      ] == [{
        resource  = "arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions"
        condition = { StringEquals = { "events:source" = "cv.inference" } }
    }]
    error_message = "The state machine may put only its decision events (source cv.inference) on the decision bus."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(module.state_machine_observability.policy_json).Statement :
      alltrue([for action in flatten([statement.Action]) : startswith(action, "logs:") || startswith(action, "xray:")])
      if contains(flatten([statement.Resource]), "*") && statement.Sid != "CountAuditSamplesNotQueued"
    ])
    error_message = "Resource \"*\" is allowed only for the log-delivery and X-Ray actions, which support no resource-level permissions."
  }

  assert {
    # PutMetricData has no resource type: "*", held to the functions' namespace by its condition key.
    condition = [
      for statement in jsondecode(module.state_machine_observability.policy_json).Statement :
      { action = statement.Action, resource = statement.Resource, condition = statement.Condition } if statement.Sid == "CountAuditSamplesNotQueued"
      ] == [{
        action    = "cloudwatch:PutMetricData"
        resource  = "*"
        condition = { StringEquals = { "cloudwatch:namespace" = "cv" } }
    }]
    error_message = "The state machine may publish metrics (AuditSampleNotQueued) only in the stack's own namespace."
  }

  assert {
    condition = (
      aws_iam_role_policy.state_machine.policy == module.state_machine_observability.policy_json &&
      [for statement in jsondecode(module.state_machine_observability.policy_json).Statement : statement.Sid] == [
        "InvokeWorkflowFunctions", "SendToHumanReview", "PublishDecisions", "CountAuditSamplesNotQueued",
        "DeliverExecutionLogs", "SendTraces",
      ]
    )
    error_message = "The role's policy is the workflow's own statements followed by log delivery and X-Ray; it is ${module.state_machine_observability.policy_json}"
  }

  assert {
    condition = alltrue(flatten([
      for document in [
        module.state_machine_observability.policy_json,
        data.aws_iam_policy_document.state_machine_assume_role.json,
        data.aws_iam_policy_document.serialize_image.json,
        data.aws_iam_policy_document.classify_image.json,
      ] :
      [for statement in jsondecode(document).Statement : [for action in flatten([statement.Action]) : !strcontains(action, "*")]]
    ]))
    error_message = "No policy of the workflow may grant a wildcard action."
  }

  assert {
    condition = (
      jsondecode(data.aws_iam_policy_document.state_machine_assume_role.json).Statement[0].Principal == { Service = "states.amazonaws.com" } &&
      jsondecode(data.aws_iam_policy_document.state_machine_assume_role.json).Statement[0].Condition == { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    )
    error_message = "Only Step Functions, acting for this account, may assume the state machine's role."
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.serialize_image.json).Statement == [{
      Sid      = "ReadImagesToClassify"
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = ["arn:aws:s3:::cv-data/incoming/*", "arn:aws:s3:::cv-data/datasets/test/*"]
    }]
    error_message = "serialize_image may read objects under the image prefixes only; its policy is ${data.aws_iam_policy_document.serialize_image.json}"
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.classify_image.json).Statement == [{
      Sid      = "InvokeClassifierEndpoint"
      Effect   = "Allow"
      Action   = "sagemaker:InvokeEndpoint"
      Resource = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/cv-endpoint"
    }]
    error_message = "classify_image may invoke its endpoint only; its policy is ${data.aws_iam_policy_document.classify_image.json}"
  }

  assert {
    condition = [for statement in jsondecode(data.aws_iam_policy_document.inference_api.json).Statement : [statement.Action, statement.Resource]] == [
      ["states:StartSyncExecution", "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference"],
      ["s3:PutObject", "arn:aws:s3:::cv-data/incoming/api/*"],
    ]
    error_message = "inference_api may run this state machine synchronously and store uploads under incoming/api/ only; its policy is ${data.aws_iam_policy_document.inference_api.json}"
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.api_caller[0].json).Statement == [
      {
        Sid       = "CallTheInferenceApi"
        Effect    = "Allow"
        Action    = "lambda:InvokeFunctionUrl"
        Resource  = "arn:aws:lambda:eu-west-1:123456789012:function:cv-inference-api"
        Condition = { StringEquals = { "lambda:FunctionUrlAuthType" = "AWS_IAM" } }
      },
      {
        Sid       = "InvokeThroughTheUrlOnly"
        Effect    = "Allow"
        Action    = "lambda:InvokeFunction"
        Resource  = "arn:aws:lambda:eu-west-1:123456789012:function:cv-inference-api"
        Condition = { Bool = { "lambda:InvokedViaFunctionUrl" = "true" } }
      },
    ]
    error_message = "A caller of the API needs exactly InvokeFunctionUrl (AWS_IAM) and InvokeFunction through the URL; the policy is ${data.aws_iam_policy_document.api_caller[0].json}"
  }
}

run "function_role_writes_only_its_own_logs" {
  module {
    source = "./modules/lambda_function"
  }

  variables {
    function_name = "cv-serialize-image"
    zip_path      = "tests/fixtures/serialize_image.zip"
    policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ReadImagesToClassify\",\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::cv-data/incoming/*\"}]}"
  }

  override_resource {
    target = aws_cloudwatch_log_group.this
    values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cv-serialize-image" }
  }

  override_resource {
    target = aws_iam_role.this
    values = { arn = "arn:aws:iam::123456789012:role/cv-serialize-image-role" }
  }

  override_resource {
    target = aws_iam_role_policy.this
  }

  override_resource {
    target = aws_lambda_function.this
  }

  assert {
    condition = toset([for statement in jsondecode(data.aws_iam_policy_document.this.json).Statement : statement.Sid]) == toset([
      "ReadImagesToClassify", "LambdaWriteOwnLogs", "LambdaSendTraces",
    ])
    error_message = "The role's policy must hold the caller's statements plus logging and tracing; it is ${data.aws_iam_policy_document.this.json}"
  }

  assert {
    condition = one([
      for statement in jsondecode(data.aws_iam_policy_document.this.json).Statement : statement.Resource if statement.Sid == "LambdaWriteOwnLogs"
    ]) == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cv-serialize-image:*"
    error_message = "The function may write to its own log group only."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(data.aws_iam_policy_document.this.json).Statement :
      alltrue([for action in flatten([statement.Action]) : startswith(action, "xray:")]) if contains(flatten([statement.Resource]), "*")
    ])
    error_message = "Resource \"*\" is allowed only for the X-Ray actions, which support no resource-level permissions."
  }

  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.this.json, data.aws_iam_policy_document.assume_role.json] :
      [for statement in jsondecode(document).Statement : [for action in flatten([statement.Action]) : !strcontains(action, "*")]]
    ]))
    error_message = "No function policy may grant a wildcard action."
  }

  assert {
    condition     = jsondecode(data.aws_iam_policy_document.assume_role.json).Statement[0].Principal == { Service = "lambda.amazonaws.com" }
    error_message = "Only the Lambda service may assume the function's role."
  }
}
