# modules/training_pipeline on its own. The rendered definition is checked with a mocked AWS provider; the IAM
# policies with the real provider, offline (see iam_policies.tftest.hcl for why), so their JSON is the real one.

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

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:cv-training-pipeline" }
  }
}

provider "aws" {
  alias                       = "offline"
  region                      = "eu-west-1"
  access_key                  = "offline-test"
  secret_key                  = "offline-test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = "true"
  skip_region_validation      = true
}

variables {
  name_prefix                 = "cv"
  lambda_artifacts_dir        = "tests/fixtures"
  data_bucket_name            = "cv-data"
  data_bucket_arn             = "arn:aws:s3:::cv-data"
  capture_bucket_name         = "cv-capture"
  capture_bucket_arn          = "arn:aws:s3:::cv-capture"
  dataset_prefix              = "datasets/cifar-bikes"
  write_baseline_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-write-baseline"
}

run "renders_the_gate_threshold_and_deployment_settings_into_the_definition" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    accuracy_threshold = 0.85
    capture_percentage = 40
    endpoint_name      = "cv-classifier"
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_resource {
    target = aws_iam_role.sagemaker
    values = { arn = "arn:aws:iam::123456789012:role/cv-sagemaker-execution" }
  }

  assert {
    condition     = !strcontains(aws_sfn_state_machine.this.definition, "$${")
    error_message = "The rendered definition still holds a $${...} placeholder."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["AccuracyThreshold.$"] == "States.StringToJson('0.85')"
    error_message = "accuracy_threshold 0.85 did not land in LoadSettings.AccuracyThreshold."
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.AccuracyGate.Choices[0] == {
      Variable                     = "$.ModelEvaluation.Accuracy"
      NumericGreaterThanEqualsPath = "$.settings.AccuracyThreshold"
      Next                         = "CreateModel"
    }
    error_message = "The gate must compare the evaluated accuracy with the rendered threshold and deploy when it is at least that."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.AccuracyGate.Default == "DescribeRejection"
    error_message = "A model below the threshold must go to the rejection path."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["CapturePercentage.$"] == "States.StringToJson('40')"
    error_message = "capture_percentage did not land in the definition."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointName == "cv-classifier"
    error_message = "endpoint_name did not land in the definition."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.CaptureS3Uri == "s3://cv-capture/datacapture"
    error_message = "Data capture must go to the capture bucket."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Train.Parameters.RoleArn == "arn:aws:iam::123456789012:role/cv-sagemaker-execution"
    error_message = "Training jobs must run with the module's SageMaker execution role."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Evaluate.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
    error_message = "Evaluate must invoke the module's evaluate_model function."
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD"
    error_message = "createTrainingJob.sync needs a Standard workflow."
  }

  assert {
    condition     = length(terraform_data.launch) == 0
    error_message = "Launching a training run on apply must be opt-in."
  }
}

run "rejects_a_threshold_outside_zero_to_one" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    accuracy_threshold = 1.5
  }

  override_module {
    target  = module.evaluate_model
    outputs = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model" }
  }

  expect_failures = [var.accuracy_threshold]
}

run "passes_only_the_execution_role_and_only_to_sagemaker" {
  providers = {
    aws = aws.offline
  }

  module {
    source = "./modules/training_pipeline"
  }

  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_resource {
    target = aws_iam_role.sagemaker
    values = { arn = "arn:aws:iam::123456789012:role/cv-sagemaker-execution" }
  }

  override_resource {
    target = aws_iam_role.state_machine
    values = { arn = "arn:aws:iam::123456789012:role/cv-training-pipeline-sfn" }
  }

  override_resource {
    target = aws_iam_role_policy.sagemaker
  }

  override_resource {
    target = aws_iam_role_policy.state_machine
  }

  override_resource {
    target = aws_sns_topic.notifications
    values = { arn = "arn:aws:sns:eu-west-1:123456789012:cv-training-pipeline" }
  }

  override_resource {
    target = aws_cloudwatch_log_group.state_machine
    values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vendedlogs/states/cv-training-pipeline" }
  }

  override_resource {
    target = aws_sfn_state_machine.this
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement : {
        resources = flatten([statement.Resource])
        services  = flatten([statement.Condition.StringEquals["iam:PassedToService"]])
      } if contains(flatten([statement.Action]), "iam:PassRole")
      ] == [{
        resources = ["arn:aws:iam::123456789012:role/cv-sagemaker-execution"]
        services  = ["sagemaker.amazonaws.com"]
    }]
    error_message = "iam:PassRole must be granted once, on the SageMaker execution role only, conditioned on iam:PassedToService = sagemaker.amazonaws.com; the policy is ${data.aws_iam_policy_document.state_machine.json}"
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      alltrue([for action in flatten([statement.Action]) : !strcontains(action, "*")])
    ])
    error_message = "The state machine's policy must name its actions; no wildcards."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "events:PutRule")
    ])) == toset(["arn:aws:events:eu-west-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"])
    error_message = "createTrainingJob.sync needs events:PutRule/PutTargets/DescribeRule on the managed rule, and only that rule."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "sagemaker:CreateTrainingJob")
    ])) == toset(["arn:aws:sagemaker:eu-west-1:123456789012:training-job/cv-*"])
    error_message = "The state machine may create training jobs named <name_prefix>-* only."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement : {
        resources = toset(flatten([statement.Resource]))
        tag_keys  = statement.Condition["ForAllValues:StringEquals"]["aws:TagKeys"]
      } if contains(flatten([statement.Action]), "sagemaker:AddTags")
      ] == [{
        resources = toset([
          "arn:aws:sagemaker:eu-west-1:123456789012:training-job/cv-*",
          "arn:aws:sagemaker:eu-west-1:123456789012:model/cv-*",
          "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/cv-*",
          "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/cv-endpoint",
        ])
        tag_keys = "MANAGED_BY_AWS"
    }]
    error_message = "Step Functions tags what its SageMaker tasks create (MANAGED_BY_AWS): the role needs sagemaker:AddTags on the pipeline's jobs, models, endpoint configs and endpoint, for that tag key only."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "lambda:InvokeFunction")
      ])) == toset([
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model:*",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-write-baseline",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-write-baseline:*",
    ])
    error_message = "The state machine may invoke evaluate_model and the baseline writer, nothing else."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "s3:GetObject")
      ])) == toset([
      "arn:aws:s3:::cv-data/datasets/cifar-bikes/*",
      "arn:aws:s3:::cv-data/training-code/*",
      "arn:aws:s3:::cv-data/models/*",
    ])
    error_message = "SageMaker may read the datasets, the training code and the models of the data bucket only."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "s3:PutObject")
      ])) == toset([
      "arn:aws:s3:::cv-data/models/*",
      "arn:aws:s3:::cv-capture/datacapture/*",
    ])
    error_message = "SageMaker may write model artifacts and data capture, nowhere else."
  }
}
