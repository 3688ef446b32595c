# Safe deployments in modules/training_pipeline (registry, approval, canary/linear rollout, smoke test) and
# modules/endpoint (the destroy-time cleanup), each on its own. Like training_pipeline.tftest.hcl: The rendered definition is checked with a mocked AWS provider; the IAM
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

run "registers_every_gated_model_in_its_own_group_and_deploys_it_at_once_by_default" {
  module {
    source = "./modules/training_pipeline"
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
    condition     = aws_sagemaker_model_package_group.this.model_package_group_name == "cv-models"
    error_message = "The model package group must be <name_prefix>-models, owned by Terraform."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.ModelPackageGroupName == "cv-models" && jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.InitialApprovalStatus == "Approved"
    error_message = "Without require_approval, versions must be registered Approved in the module's group."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.DeploymentStrategy == "all_at_once" && jsondecode(aws_sfn_state_machine.this.definition).States.ChooseDeploymentStrategy.Default == "UpdateEndpoint"
    error_message = "deployment_strategy defaults to all_at_once: today's UpdateEndpoint, no DeploymentConfig."
  }

  assert {
    condition     = !contains(keys(jsondecode(aws_sfn_state_machine.this.definition).States.UpdateEndpoint.Parameters), "DeploymentConfig") && jsondecode(aws_sfn_state_machine.this.definition).States.UpdateEndpoint.Parameters.RetainAllVariantProperties == true
    error_message = "The all-at-once update must keep RetainAllVariantProperties and send no DeploymentConfig."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.AccuracyGate.Choices[0].Next == "CreateModel" && jsondecode(aws_sfn_state_machine.this.definition).States.NameModelInVariant.Next == "DescribeModelQuality" && jsondecode(aws_sfn_state_machine.this.definition).States.WriteModelQuality.Next == "RegisterModelVersion"
    error_message = "A model that passes the gate must be registered (with its evaluation) before any endpoint config is made."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.IsEndpointReady.Choices[0].Next == "SmokeTest" && jsondecode(aws_sfn_state_machine.this.definition).States.SmokeTest.Next == "WriteMonitoringBaseline"
    error_message = "The smoke test must run once the endpoint serves the new config, before the baseline and success."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.SmokeTest.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:cv-smoke-test"
    error_message = "The SmokeTest state must invoke the module's smoke_test function."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.WriteModelQuality.Parameters.Bucket == "cv-data" && jsondecode(aws_sfn_state_machine.this.definition).States.WriteModelQuality.Parameters["Key.$"] == "States.Format('models/{}/evaluation.json', $.names.TrainingJobName)"
    error_message = "evaluation.json must go beside the model artifact, under model_prefix in the data bucket."
  }

  assert {
    condition     = output.rollback_command == "python -m training.launch --rollback --state-machine-arn ${aws_sfn_state_machine.this.arn}"
    error_message = "rollback_command must name this pipeline."
  }
}

run "with_require_approval_versions_wait_for_a_person_until_they_expire" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    require_approval       = true
    approval_timeout_hours = 3
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
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.InitialApprovalStatus == "PendingManualApproval"
    error_message = "With require_approval, versions must be registered PendingManualApproval."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["ApprovalTimeoutSeconds.$"] == "States.StringToJson('10800')"
    error_message = "approval_timeout_hours = 3 must render 10800 seconds."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.Resource == "arn:aws:states:::sns:publish.waitForTaskToken" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.TimeoutSecondsPath == "$.settings.ApprovalTimeoutSeconds" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.Parameters.TopicArn == "arn:aws:sns:eu-west-1:123456789012:cv-training-pipeline"
    )
    error_message = "The approval request must be an SNS publish to the notification topic that waits for the task token, expiring after ApprovalTimeoutSeconds."
  }

  assert {
    condition     = toset([for catch in jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.Catch : catch.Next]) == toset(["IsRejectionExplained", "DescribeApprovalExpired", "RecordDeploymentFailure"]) && jsondecode(aws_sfn_state_machine.this.definition).States.ModelRejected.Type == "Fail" && jsondecode(aws_sfn_state_machine.this.definition).States.ApprovalExpired.Type == "Fail"
    error_message = "A rejection and an expiry must each end in their own Fail state."
  }
}

run "a_canary_rollout_names_the_endpoints_alarms_for_auto_rollback" {
  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy  = "canary"
    deployment           = { traffic_step_percent = 25, wait_interval_seconds = 300, termination_wait_seconds = 120 }
    rollback_alarm_names = ["cv-endpoint-5xx", "cv-endpoint-latency-p99", "cv-endpoint-error-rate"]
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
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.DeploymentStrategy == "canary" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["TrafficStepPercent.$"] == "States.StringToJson('25')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["WaitIntervalSeconds.$"] == "States.StringToJson('300')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["TerminationWaitSeconds.$"] == "States.StringToJson('120')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters["MaximumExecutionSeconds.$"] == "States.StringToJson('3600')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadSettings.Parameters.RollbackAlarmNames == "cv-endpoint-5xx,cv-endpoint-latency-p99,cv-endpoint-error-rate"
    )
    error_message = "The canary's size, waits, timeout and alarms must land in LoadSettings."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadCanaryRollout.Parameters.TrafficRoutingConfiguration.Type == "CANARY" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.LoadCanaryRollout.Parameters.TrafficRoutingConfiguration.CanarySize.Type == "CAPACITY_PERCENT"
    )
    error_message = "A canary rollout must send a CANARY TrafficRoutingConfiguration sized in percent of capacity."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.UpdateEndpointWithGuardrails.Parameters.RetainAllVariantProperties == true &&
      jsondecode(aws_sfn_state_machine.this.definition).States.UpdateEndpointWithGuardrails.Parameters.DeploymentConfig.AutoRollbackConfiguration["Alarms.$"] == "$.rollback_alarms.Alarms"
    )
    error_message = "The guarded update must keep RetainAllVariantProperties and name the alarms for auto-rollback."
  }
}

run "a_rollout_without_alarms_is_refused" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy = "canary"
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

run "a_linear_step_under_ten_percent_is_refused" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy  = "linear"
    deployment           = { traffic_step_percent = 5 }
    rollback_alarm_names = ["cv-endpoint-5xx"]
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

run "a_timeout_shorter_than_the_waits_is_refused" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy  = "linear"
    deployment           = { traffic_step_percent = 20, wait_interval_seconds = 600, maximum_execution_timeout_seconds = 1800 }
    rollback_alarm_names = ["cv-endpoint-5xx"]
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

run "an_unknown_strategy_and_out_of_range_settings_are_refused" {
  command = plan

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy    = "blue_green"
    approval_timeout_hours = 24
    deployment             = { traffic_step_percent = 60, wait_interval_seconds = 4000 }
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

  expect_failures = [var.deployment_strategy, var.approval_timeout_hours, var.deployment]
}

run "the_roles_may_register_versions_read_the_rollback_alarms_and_invoke_the_smoke_test_only" {
  providers = {
    aws = aws.offline
  }

  module {
    source = "./modules/training_pipeline"
  }

  variables {
    deployment_strategy  = "canary"
    rollback_alarm_names = ["cv-endpoint-5xx", "cv-endpoint-error-rate"]
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

  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
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
      for statement in jsondecode(data.aws_iam_policy_document.state_machine.json).Statement :
      toset(flatten([statement.Resource])) if contains(flatten([statement.Action]), "cloudwatch:DescribeAlarms")
      ] == [toset([
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:cv-endpoint-5xx",
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:cv-endpoint-error-rate",
    ])]
    error_message = "The state machine may read the rollback alarms, those only."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker.json).Statement :
      toset(flatten([statement.Resource])) if contains(flatten([statement.Action]), "cloudwatch:DescribeAlarms")
      ] == [toset([
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:cv-endpoint-5xx",
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:cv-endpoint-error-rate",
    ])]
    error_message = "The SageMaker execution role must read the auto-rollback alarms (deployment guardrails' prerequisite), those only."
  }

  assert {
    condition = [
      for statement in jsondecode(data.aws_iam_policy_document.smoke_test.json).Statement : {
        actions   = flatten([statement.Action])
        resources = flatten([statement.Resource])
      }
      ] == [
      { actions = ["s3:ListBucket"], resources = ["arn:aws:s3:::cv-data"] },
      { actions = ["s3:GetObject"], resources = ["arn:aws:s3:::cv-data/datasets/cifar-bikes/*"] },
      { actions = ["sagemaker:InvokeEndpoint"], resources = ["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/cv-endpoint"] },
    ]
    error_message = "The smoke test may read the dataset and invoke the endpoint, nothing else."
  }
}

run "the_endpoint_is_left_at_destroy_unless_asked" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  assert {
    condition     = terraform_data.endpoint_cleanup.input.enabled == false && output.destroy_deletes_endpoint == false
    error_message = "destroy_deletes_endpoint defaults to false: destroy leaves the endpoint."
  }
}

run "destroy_deletes_the_endpoint_its_configs_models_and_versions_when_asked" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    destroy_deletes_endpoint = true
    model_package_group_name = "cv-models"
    cleanup_python           = ".venv/bin/python"
  }

  assert {
    condition = terraform_data.endpoint_cleanup.input == {
      enabled             = true
      endpoint_name       = "cv-endpoint"
      name_prefix         = "cv"
      model_package_group = "cv-models"
      region              = "eu-west-1"
      python              = ".venv/bin/python"
      working_dir         = abspath("${path.module}/../../..")
    }
    error_message = "The destroy-time cleanup keeps in its input all it needs (a destroy provisioner can only read self)."
  }
}

run "refuses_a_package_group_name_sagemaker_would_refuse" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    model_package_group_name = "cv_models"
  }

  expect_failures = [var.model_package_group_name]
}
