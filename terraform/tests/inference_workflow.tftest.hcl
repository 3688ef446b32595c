# modules/inference_workflow on its own, with a mocked AWS provider. The rendered IAM JSON is checked with the
# real provider (offline) in iam_policies.tftest.hcl.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mock" }
  }
}

# Distinct, recognisable ARNs for the three functions, so that a swapped placeholder shows.
override_resource {
  target = module.serialize_image.aws_lambda_function.this
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-serialize-image" }
}

override_resource {
  target = module.classify_image.aws_lambda_function.this
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-classify-image" }
}

override_resource {
  target = module.filter_inferences.aws_lambda_function.this
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-filter-inferences" }
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
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:cv-human-review-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review-dlq"
  }
}

override_resource {
  target = aws_cloudwatch_event_bus.decisions
  values = { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions" }
}

override_resource {
  target = aws_sfn_state_machine.this
  values = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference" }
}

variables {
  name_prefix          = "cv"
  lambda_artifacts_dir = "tests/fixtures"
  data_bucket_arn      = "arn:aws:s3:::cv-data-123456789012-eu-west-1"
  endpoint_name        = "CV-Endpoint"
}

run "renders_the_definition_with_every_placeholder_filled" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = !strcontains(aws_sfn_state_machine.this.definition, "$${")
    error_message = "The rendered definition still holds a $${...} placeholder."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.SerializeImage.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:cv-serialize-image" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.ClassifyImage.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:cv-classify-image" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.FilterInferences.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:cv-filter-inferences"
    )
    error_message = "Each Task state must invoke its own function: SerializeImage, ClassifyImage, FilterInferences."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.RequestHumanReview.Parameters.QueueUrl == "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.QueueUnclassifiedImage.Parameters.QueueUrl == "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review"
    )
    error_message = "Both human-review states must send to the human-review queue."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).StartAt == jsondecode(file("../inference.asl.json")).StartAt &&
      keys(jsondecode(aws_sfn_state_machine.this.definition).States) == keys(jsondecode(file("../inference.asl.json")).States)
    )
    error_message = "The definition must be the rendered inference.asl.json: same start state, same states."
  }
}

run "publishes_every_decision_on_the_stack_s_bus" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = aws_cloudwatch_event_bus.decisions.name == "cv-decisions" && output.decision_bus_name == "cv-decisions"
    error_message = "The module must own the decision bus <name_prefix>-decisions and output its name."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.PublishDecision.Resource == "arn:aws:states:::events:putEvents" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.PublishDecision.Parameters.Entries[0].EventBusName == "arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.PublishDecision.Parameters.Entries[0].Source == "cv.inference" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.PublishDecision.Parameters.Entries[0].DetailType == output.decision_detail_type &&
      output.decision_event_source == "cv.inference"
    )
    error_message = "PublishDecision must put the decision on the module's bus with source <name_prefix>.inference."
  }

  assert {
    condition = toset([
      for choice in jsondecode(aws_sfn_state_machine.this.definition).States.RouteByVehicle.Choices : choice.Next
    ]) == toset(["PublishDecision", "RequestHumanReview"]) && jsondecode(aws_sfn_state_machine.this.definition).States.RequestHumanReview.Next == "PublishDecision"
    error_message = "Every route, human_review included, must pass through PublishDecision."
  }

  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.state_machine.statement : statement.resources if statement.sid == "PublishDecisions"
    ]) == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions"])
    error_message = "The state machine may put events on the decision bus only."
  }
}

run "serves_a_synchronous_https_api_with_iam_auth" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = aws_lambda_function_url.api[0].authorization_type == "AWS_IAM" && aws_lambda_function_url.api[0].function_name == "cv-inference-api"
    error_message = "The API must be a function URL of <prefix>-inference-api with AWS_IAM auth (signed requests only)."
  }

  assert {
    condition = (
      output.function_environments.inference_api["STATE_MACHINE_ARN"] == "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference" &&
      output.function_environments.inference_api["UPLOAD_BUCKET"] == "cv-data-123456789012-eu-west-1" &&
      output.function_environments.inference_api["UPLOAD_PREFIX"] == "incoming/api/" &&
      tonumber(output.function_environments.inference_api["ANSWER_TIMEOUT_SECONDS"]) < var.api_timeout_seconds
    )
    error_message = "inference_api must run this workflow, store uploads under the first image prefix (which serialize_image reads) and answer before its own timeout."
  }

  assert {
    condition = (
      one([for statement in data.aws_iam_policy_document.inference_api.statement : statement.resources if statement.sid == "RunTheWorkflowSynchronously"]) == toset(["arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference"]) &&
      one([for statement in data.aws_iam_policy_document.inference_api.statement : statement.actions if statement.sid == "RunTheWorkflowSynchronously"]) == toset(["states:StartSyncExecution"]) &&
      one([for statement in data.aws_iam_policy_document.inference_api.statement : statement.resources if statement.sid == "StoreUploadedImages"]) == toset(["arn:aws:s3:::cv-data-123456789012-eu-west-1/incoming/api/*"])
    )
    error_message = "inference_api may StartSyncExecution on this state machine and write under incoming/api/ only."
  }

  assert {
    condition     = toset(flatten([for statement in data.aws_iam_policy_document.api_caller[0].statement : statement.actions])) == toset(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])
    error_message = "The caller policy must grant lambda:InvokeFunctionUrl and lambda:InvokeFunction (through the URL) on the API function."
  }
}

run "has_no_api_when_disabled" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    api_enabled = false
  }

  assert {
    condition     = length(aws_lambda_function_url.api) == 0 && output.api_url == null && !contains(keys(output.function_names), "inference_api")
    error_message = "api_enabled = false must create no function URL and no inference_api function."
  }
}

run "refuses_an_api_image_limit_over_the_invocation_payload" {
  command = plan
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    api_max_image_bytes = 6291456
  }

  expect_failures = [var.api_max_image_bytes]
}

run "probes_known_images_on_a_schedule" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.probe[0].schedule_expression == "rate(5 minutes)" &&
      aws_cloudwatch_event_target.probe[0].rule == aws_cloudwatch_event_rule.probe[0].name &&
      aws_lambda_permission.probe_schedule[0].principal == "events.amazonaws.com" &&
      aws_lambda_permission.probe_schedule[0].function_name == "cv-inference-probe"
    )
    error_message = "An EventBridge rule must invoke <prefix>-inference-probe every 5 minutes by default."
  }

  assert {
    condition = jsondecode(output.function_environments.inference_probe["PROBE_IMAGES"]) == {
      "incoming/probes/bicycle.png"    = "nearby"
      "incoming/probes/motorcycle.png" = "distant"
    } && output.function_environments.inference_probe["STATE_MACHINE_ARN"] == "arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference"
    error_message = "The probe must check one bicycle (nearby) and one motorcycle (distant) under incoming/probes/, through this state machine."
  }

  assert {
    condition = (
      one([for statement in data.aws_iam_policy_document.inference_probe.statement : statement.actions]) == toset(["states:StartSyncExecution"]) &&
      one([for statement in data.aws_iam_policy_document.inference_probe.statement : statement.resources]) == toset(["arn:aws:states:eu-west-1:123456789012:stateMachine:cv-inference"])
    )
    error_message = "The probe may only run this state machine synchronously."
  }
}

run "probes_every_minute_when_asked_and_uploads_given_images" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    probe_interval_minutes = 1
    probe_image_files      = { "bicycle.png" = "tests/fixtures/probe.png" }
  }

  assert {
    condition     = aws_cloudwatch_event_rule.probe[0].schedule_expression == "rate(1 minute)"
    error_message = "A one-minute interval is rate(1 minute) (EventBridge refuses rate(1 minutes))."
  }

  assert {
    condition     = aws_s3_object.probe_images["bicycle.png"].key == "incoming/probes/bicycle.png" && aws_s3_object.probe_images["bicycle.png"].content_type == "image/png"
    error_message = "A probe image given as a file must be uploaded to its probe key."
  }
}

run "refuses_probe_images_without_a_known_route" {
  command = plan
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    probe_images = { "bicycle.png" = "human_review" }
  }

  expect_failures = [var.probe_images]
}

run "logs_executions_without_image_data" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].include_execution_data == false && aws_sfn_state_machine.this.logging_configuration[0].level == "ALL"
    error_message = "Every execution must be logged, without state inputs/outputs: the payload between SerializeImage and ClassifyImage is the whole image."
  }

  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].log_destination == "${aws_cloudwatch_log_group.state_machine.arn}:*" && aws_cloudwatch_log_group.state_machine.name == "/aws/vendedlogs/states/cv-inference"
    error_message = "Execution logs must go to /aws/vendedlogs/states/<state machine name>."
  }

  assert {
    condition     = aws_sfn_state_machine.this.tracing_configuration[0].enabled
    error_message = "X-Ray tracing must be enabled on the state machine."
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "EXPRESS" && aws_sfn_state_machine.this.name == "cv-inference"
    error_message = "The default workflow is an EXPRESS state machine named <name_prefix>-inference."
  }
}

run "sets_retention_on_every_log_group" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    log_retention_days = 7
  }

  assert {
    condition     = length(output.log_groups) == 6 && alltrue([for retention in values(output.log_groups) : retention == 7])
    error_message = "The five function log groups (three steps, the API, the probe) and the state machine's must all expire after log_retention_days; got ${jsonencode(output.log_groups)}."
  }
}

run "wires_the_environment_of_each_function" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    confidence_threshold = 0.65
    max_image_bytes      = 2097152
    max_image_pixels     = 1048576
  }

  assert {
    condition     = output.function_environments.filter_inferences["CONFIDENCE_THRESHOLD"] == "0.65"
    error_message = "confidence_threshold must reach filter_inferences as CONFIDENCE_THRESHOLD."
  }


  assert {
    condition     = jsondecode(output.function_environments.filter_inferences["LABEL_ROUTES"]) == { bicycle = "nearby", motorcycle = "distant" }
    error_message = "LABEL_ROUTES must be the JSON object label -> route."
  }

  assert {
    condition = (
      output.function_environments.classify_image["ENDPOINT_NAME"] == "CV-Endpoint" &&
      output.function_environments.classify_image["CLASS_LABELS"] == "bicycle,motorcycle" &&
      output.function_environments.classify_image["MODEL_CONTENT_TYPE"] == "application/x-image"
    )
    error_message = "classify_image must get ENDPOINT_NAME, CLASS_LABELS (comma-joined, model order) and MODEL_CONTENT_TYPE."
  }

  assert {
    condition     = output.function_environments.serialize_image["MAX_IMAGE_BYTES"] == "2097152" && output.function_environments.serialize_image["MAX_IMAGE_PIXELS"] == "1048576"
    error_message = "serialize_image must get MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS."
  }

  assert {
    condition     = output.function_names == { serialize_image = "cv-serialize-image", classify_image = "cv-classify-image", filter_inferences = "cv-filter-inferences", inference_api = "cv-inference-api", inference_probe = "cv-inference-probe" }
    error_message = "Function names must derive from name_prefix."
  }
}

run "audits_a_share_of_automatic_routes" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    audit_sample_rate = 0.2
  }

  assert {
    condition     = output.function_environments.filter_inferences["AUDIT_SAMPLE_RATE"] == "0.2"
    error_message = "audit_sample_rate must reach filter_inferences as AUDIT_SAMPLE_RATE."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.QueueAuditSample.Parameters.QueueUrl == "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.QueueAuditSample.Parameters.MessageBody.reason == "AuditSample" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.CountAuditSampleNotQueued.Parameters.Namespace == "cv" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.CountAuditSampleNotQueued.Parameters.MetricData[0].Dimensions[0].Value == output.audit_metric_service
    )
    error_message = "Audit samples go to the human-review queue; one that cannot be queued is counted in the functions' namespace under audit_metric_service."
  }
}

run "refuses_an_audit_rate_outside_0_1" {
  command = plan

  module {
    source = "./modules/inference_workflow"
  }

  variables {
    audit_sample_rate = 1.5
  }

  expect_failures = [var.audit_sample_rate]
}

run "leaves_the_threshold_to_the_model_by_default" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = !contains(keys(output.function_environments.filter_inferences), "CONFIDENCE_THRESHOLD")
    error_message = "Without confidence_threshold, filter_inferences must get no CONFIDENCE_THRESHOLD: the model's own threshold applies."
  }
}

run "grants_each_function_only_what_it_needs" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.serialize_image.statement) == 1 &&
      data.aws_iam_policy_document.serialize_image.statement[0].actions == toset(["s3:GetObject"]) &&
      data.aws_iam_policy_document.serialize_image.statement[0].resources == toset(["arn:aws:s3:::cv-data-123456789012-eu-west-1/incoming/*"])
    )
    error_message = "serialize_image may only read objects under the incoming/ prefix of the data bucket."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.classify_image.statement) == 1 &&
      data.aws_iam_policy_document.classify_image.statement[0].actions == toset(["sagemaker:InvokeEndpoint"]) &&
      data.aws_iam_policy_document.classify_image.statement[0].resources == toset(["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/cv-endpoint"])
    )
    error_message = "classify_image may only invoke its endpoint (ARN lowercased, as SageMaker writes it)."
  }
}

run "queues_human_reviews_encrypted_with_a_dead_letter_queue" {
  module {
    source = "./modules/inference_workflow"
  }

  assert {
    condition     = aws_sqs_queue.human_review.sqs_managed_sse_enabled && aws_sqs_queue.human_review_dlq.sqs_managed_sse_enabled
    error_message = "Both queues must be encrypted at rest (SQS-managed SSE without kms_key_arn)."
  }

  assert {
    condition = (
      aws_sqs_queue_redrive_policy.human_review.queue_url == aws_sqs_queue.human_review.id &&
      jsondecode(aws_sqs_queue_redrive_policy.human_review.redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:cv-human-review-dlq", maxReceiveCount = 5 }
    )
    error_message = "The human-review queue must redrive to its dead-letter queue after 5 receives."
  }
}

run "uses_the_kms_key_when_given" {
  module {
    source = "./modules/inference_workflow"
  }

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_sqs_queue.human_review.kms_master_key_id == var.kms_key_arn && aws_sqs_queue.human_review_dlq.kms_master_key_id == var.kms_key_arn
    error_message = "With kms_key_arn both queues must be encrypted with that key."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.serialize_image.statement : s.sid if s.actions == toset(["kms:Decrypt"]) && s.resources == toset([var.kms_key_arn])], "DecryptImagesToClassify")
    error_message = "serialize_image must be able to decrypt SSE-KMS images with that key (and only that key)."
  }
}

run "runs_as_a_standard_workflow_when_asked" {
  command = plan

  module {
    source = "./modules/inference_workflow"
  }

  variables {
    workflow_type = "STANDARD"
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD"
    error_message = "workflow_type = STANDARD must create a STANDARD state machine."
  }
}

run "refuses_a_class_without_a_route" {
  command = plan

  module {
    source = "./modules/inference_workflow"
  }

  variables {
    class_labels = ["bicycle", "motorcycle", "scooter"]
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "refuses_routes_the_state_machine_does_not_know" {
  command = plan

  module {
    source = "./modules/inference_workflow"
  }

  variables {
    label_routes  = { bicycle = "nearby", motorcycle = "far-away" }
    workflow_type = "SYNC"
  }

  expect_failures = [var.label_routes, var.workflow_type]
}
