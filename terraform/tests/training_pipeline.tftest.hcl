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
  production_variant = {
    VariantName          = "AllTraffic"
    InstanceType         = "ml.m5.large"
    InitialInstanceCount = 1
    InitialVariantWeight = 1
  }
  capture_percentage = 100
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

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
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
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.DataCapture["InitialSamplingPercentage.$"] == "States.StringToJson('40')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.DataCapture["EnableCapture.$"] == "States.StringToJson('true')"
    )
    error_message = "capture_percentage did not land in the definition's DataCapture settings."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointName == "cv-classifier"
    error_message = "endpoint_name did not land in the definition."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.DataCapture.DestinationS3Uri == "s3://cv-capture/datacapture"
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

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
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
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test:*",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-write-baseline",
      "arn:aws:lambda:eu-west-1:123456789012:function:cv-write-baseline:*",
    ])
    error_message = "The state machine may invoke evaluate_model, the smoke test and the baseline writer, nothing else."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement : {
        actions   = toset(flatten([statement.Action]))
        resources = toset(flatten([statement.Resource]))
      } if anytrue([for action in flatten([statement.Action]) : strcontains(action, "ModelPackage")])
      ] == [{
        actions = toset(["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"])
        resources = toset([
          "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models",
          "arn:aws:sagemaker:eu-west-1:123456789012:model-package/cv-models/*",
        ])
    }]
    error_message = "The state machine registers and updates versions of its own model package group only."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      flatten([statement.Resource]) if contains(flatten([statement.Action]), "s3:PutObject")
    ])) == toset(["arn:aws:s3:::cv-data/models/*/evaluation.json"])
    error_message = "The state machine writes nothing to S3 but each version's evaluation.json."
  }

  assert {
    condition     = !strcontains(data.aws_iam_policy_document.state_machine.json, "cloudwatch:DescribeAlarms") && !strcontains(data.aws_iam_policy_document.sagemaker.json, "cloudwatch:DescribeAlarms")
    error_message = "Without rollback alarms (all_at_once) no role reads alarms."
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

  assert {
    condition = length([
      for statement in concat(
        jsondecode(data.aws_iam_policy_document.state_machine.json).Statement,
        jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement,
      ) : statement if anytrue([for action in flatten([statement.Action]) : startswith(action, "kms:")])
    ]) == 0
    error_message = "Without kms_key_arn neither role may have any kms: permission."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement : statement.Condition
      if contains(flatten([statement.Action]), "cloudwatch:PutMetricData")
      ] == [{
        StringEquals = { "cloudwatch:namespace" = ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/Endpoints"] }
    }]
    error_message = "The execution role may publish metrics to the training jobs' and the endpoint instances' namespaces only; its policy is ${data.aws_iam_policy_document.sagemaker.json}"
  }
}

run "deploys_terraforms_provisioned_variant_and_keeps_the_autoscaled_fleet" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    production_variant = {
      VariantName          = "AllTraffic"
      InstanceType         = "ml.c5.xlarge"
      InitialInstanceCount = 3
      InitialVariantWeight = 1
    }
    capture_percentage = 25
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.LoadProvisionedVariant.Parameters == {
      VariantName              = "AllTraffic"
      InstanceType             = "ml.c5.xlarge"
      "InitialInstanceCount.$" = "States.StringToJson('3')"
      "InitialVariantWeight.$" = "States.StringToJson('1')"
    }
    error_message = "The production variant (instance type, count, weight) must come from var.production_variant."
  }

  assert {
    condition = alltrue([
      for name, state in jsondecode(aws_sfn_state_machine.this.definition).States :
      name == "LoadProvisionedVariant" || !strcontains(jsonencode(try(state.Parameters, {})), "InitialInstanceCount")
    ])
    error_message = "No state but LoadProvisionedVariant may set an instance count: the count is Terraform's."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointMode == "provisioned" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointConfigShape == "provisioned" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.KmsKeyId == ""
    )
    error_message = "A provisioned endpoint without a customer key gets the plain provisioned endpoint config."
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.CreateEndpointConfig.Parameters == {
      "EndpointConfigName.$" = "$.names.TrainingJobName"
      "ProductionVariants.$" = "States.Array(States.JsonMerge($.settings.ProductionVariant, $.variant_model, false))"
      "DataCaptureConfig.$"  = "States.JsonMerge($.settings.DataCapture, $.encryption.CaptureKey, false)"
    }
    error_message = "CreateEndpointConfig must deploy Terraform's variant (with the version's model) and its data capture."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.UpdateEndpoint.Parameters.RetainAllVariantProperties == true
    error_message = "UpdateEndpoint must keep the autoscaled instance count (RetainAllVariantProperties = true)."
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.CheckProvisionedServingImage.Choices == [{
      Variable         = "$.deploy.instance_type"
      StringEqualsPath = "$.settings.EndpointInstanceType"
      Next             = "ChooseVariantShape"
    }]
    error_message = "A run must train only if its serving image was chosen for Terraform's endpoint instance type."
  }

  assert {
    condition     = output.serving_image_instance_type == "ml.c5.xlarge" && strcontains(output.launch_command, "--inference-instance-type ml.c5.xlarge")
    error_message = "The launcher must pick the serving image for Terraform's endpoint instance type; got ${output.launch_command}."
  }
}

run "deploys_a_serverless_variant_without_data_capture_or_volume_key" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    production_variant = {
      VariantName      = "AllTraffic"
      ServerlessConfig = { MemorySizeInMB = 2048, MaxConcurrency = 10 }
    }
    capture_percentage = null
    kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.LoadServerlessVariant.Parameters == {
      VariantName = "AllTraffic"
      ServerlessConfig = {
        "MemorySizeInMB.$" = "States.StringToJson('2048')"
        "MaxConcurrency.$" = "States.StringToJson('10')"
      }
    }
    error_message = "A serverless production variant must come from var.production_variant.ServerlessConfig."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointMode == "serverless" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointConfigShape == "serverless" &&
      output.endpoint_config_shape == "serverless"
    )
    error_message = "A serverless variant must be deployed with CreateServerlessEndpointConfig, with or without a customer key."
  }

  assert {
    condition = keys(jsondecode(aws_sfn_state_machine.this.definition).States.CreateServerlessEndpointConfig.Parameters) == [
      "EndpointConfigName.$", "ProductionVariants.$",
    ]
    error_message = "A serverless endpoint config must carry no DataCaptureConfig (Serverless Inference refuses it) and no KmsKeyId."
  }

  assert {
    condition     = output.serving_image_instance_type == "ml.m5.large"
    error_message = "Serverless endpoints run CPU images: the launcher must pick the image for a CPU instance type."
  }
}

run "refuses_data_capture_on_a_serverless_variant" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    production_variant = {
      VariantName      = "AllTraffic"
      ServerlessConfig = { MemorySizeInMB = 2048, MaxConcurrency = 10 }
    }
    capture_percentage = 100
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "rejects_a_variant_that_is_both_provisioned_and_serverless" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    production_variant = {
      VariantName          = "AllTraffic"
      InstanceType         = "ml.m5.large"
      InitialInstanceCount = 1
      ServerlessConfig     = { MemorySizeInMB = 2048, MaxConcurrency = 10 }
    }
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  expect_failures = [var.production_variant]
}

run "puts_the_customer_key_on_artifacts_captures_and_volumes" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.KmsKeyId == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.EndpointConfigShape == "provisioned-volume-key" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.CreateEndpointConfigWithVolumeKey.Parameters["KmsKeyId.$"] == "$.settings.KmsKeyId"
    )
    error_message = "With kms_key_arn on an instance type without local storage, the endpoint's ML storage volume must use the key."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.WithCustomerKey.Parameters.TrainingOutput == {
        S3OutputPath = "s3://cv-data/models"
        "KmsKeyId.$" = "$.settings.KmsKeyId"
      } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.WithCustomerKey.Parameters.CaptureKey == { "KmsKeyId.$" = "$.settings.KmsKeyId" } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.KeyTrainingVolume.Parameters == { "VolumeKmsKeyId.$" = "$.settings.KmsKeyId" } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Train.Parameters["OutputDataConfig.$"] == "$.encryption.TrainingOutput"
    )
    error_message = "With kms_key_arn the model artifacts, the captured data and the training volume must use the key."
  }
}

run "leaves_the_volume_key_off_an_endpoint_with_local_storage" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    production_variant = {
      VariantName          = "AllTraffic"
      InstanceType         = "ml.g4dn.xlarge"
      InitialInstanceCount = 1
    }
  }

  override_module {
    target = module.evaluate_model
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-evaluate-model"
      function_name  = "cv-evaluate-model"
      log_group_name = "/aws/lambda/cv-evaluate-model"
    }
  }

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
    }
  }

  assert {
    condition     = output.endpoint_config_shape == "provisioned" && contains(var.instance_store_families, "g4dn")
    error_message = "SageMaker refuses a KmsKeyId for an instance type with local NVMe storage (ml.g4dn): the endpoint config must not carry one."
  }
}

run "grants_sagemaker_the_customer_key_only_for_aws_resources" {
  providers = {
    aws = aws.offline
  }

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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

  override_module {
    target = module.smoke_test
    outputs = {
      function_arn   = "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
      function_name  = "cv-smoke-test"
      log_group_name = "/aws/lambda/cv-smoke-test"
    }
  }

  override_resource {
    target = aws_sagemaker_model_package_group.this
    values = {
      arn                      = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/cv-models"
      model_package_group_name = "cv-models"
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
    condition = alltrue([
      for document in [data.aws_iam_policy_document.state_machine.json, data.aws_iam_policy_document.sagemaker.json] :
      [
        for statement in jsondecode(document).Statement : {
          actions   = toset(flatten([statement.Action]))
          resources = flatten([statement.Resource])
          condition = statement.Condition
        } if contains(flatten([statement.Action]), "kms:CreateGrant")
        ] == [{
          actions   = toset(["kms:CreateGrant", "kms:DescribeKey"])
          resources = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
          condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
      }]
    ])
    error_message = "The state machine role (it creates the training jobs and endpoints) and the execution role (it runs the jobs) need kms:CreateGrant and kms:DescribeKey on the key, for AWS resources only; their policies are ${data.aws_iam_policy_document.state_machine.json} and ${data.aws_iam_policy_document.sagemaker.json}"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement :
      flatten([statement.Action]) if contains(flatten([statement.Resource]), "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab") && try(statement.Condition, null) == null
    ])) == toset(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
    error_message = "The execution role must read, write and encrypt SSE-KMS data with the key, nothing more."
  }
}
