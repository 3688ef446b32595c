variable "name_prefix" {
  description = "Prefix of every name the module creates; training jobs, models and endpoint configs must start with \"<name_prefix>-\" (the roles are scoped to it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "lambda_artifacts_dir" {
  description = "Folder holding evaluate_model.zip (scripts/build_lambdas)."
  type        = string
}

variable "definition_path" {
  description = "Path of the training pipeline's ASL template. null: statemachine.asl.json at the repository root."
  type        = string
  default     = null
}

variable "data_bucket_name" {
  description = "Bucket holding the datasets (ETL output), the training code tarballs and the model artifacts."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.data_bucket_name))
    error_message = "data_bucket_name must be a valid S3 bucket name."
  }
}

variable "data_bucket_arn" {
  description = "ARN of the data bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+$", var.data_bucket_arn))
    error_message = "data_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "capture_bucket_name" {
  description = "Bucket the endpoint's data capture goes to."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.capture_bucket_name))
    error_message = "capture_bucket_name must be a valid S3 bucket name."
  }
}

variable "capture_bucket_arn" {
  description = "ARN of the capture bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+$", var.capture_bucket_arn))
    error_message = "capture_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key. With it SageMaker encrypts the model artifacts (OutputDataConfig), the captured data (DataCaptureConfig) and the ML storage volumes of training jobs and the endpoint (where the instance type allows) with it, and the roles get the grants that needs; the key's policy must allow those roles too (README, \"KMS\"). null: SSE-S3 buckets, SageMaker's default keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "dataset_prefix" {
  description = "Key prefix of the datasets in the data bucket (the ETL's output; holds manifest.json). SageMaker may read under it; launch_on_apply trains on it."
  type        = string
  default     = "datasets"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*[^/]$", var.dataset_prefix))
    error_message = "dataset_prefix must be a key prefix without a trailing \"/\" or wildcards (for example \"datasets/cifar-bikes\")."
  }
}

variable "model_prefix" {
  description = "Key prefix in the data bucket under which training jobs write <job>/output/model.tar.gz."
  type        = string
  default     = "models"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*[^/]$", var.model_prefix))
    error_message = "model_prefix must be a key prefix without a trailing \"/\" or wildcards."
  }
}

variable "code_prefix" {
  description = "Key prefix in the data bucket where the launcher uploads <job>/source/sourcedir.tar.gz."
  type        = string
  default     = "training-code"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*[^/]$", var.code_prefix))
    error_message = "code_prefix must be a key prefix without a trailing \"/\" or wildcards."
  }
}

variable "capture_prefix" {
  description = "Key prefix in the capture bucket for the endpoint's data capture."
  type        = string
  default     = "datacapture"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*[^/]$", var.capture_prefix))
    error_message = "capture_prefix must be a key prefix without a trailing \"/\" or wildcards."
  }
}

variable "baseline_s3_uri" {
  description = "Where WriteMonitoringBaseline writes statistics.json and constraints.json for the deployed model (the monitoring schedule reads them there). null: s3://<data bucket>/monitoring/baseline."
  type        = string
  default     = null

  validation {
    condition     = var.baseline_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*[^/])?$", var.baseline_s3_uri))
    error_message = "baseline_s3_uri must be an s3:// URI without a trailing \"/\", or null."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint the pipeline creates or updates. null: <name_prefix>-endpoint."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "accuracy_threshold" {
  description = "The gate: a model is deployed only if its test (else validation) accuracy is at least this."
  type        = number
  default     = 0.8

  validation {
    condition     = var.accuracy_threshold >= 0 && var.accuracy_threshold <= 1
    error_message = "accuracy_threshold must be between 0 and 1."
  }
}

variable "production_variant" {
  description = "The ProductionVariant every endpoint config gets, less ModelName: modules/endpoint's production_variant output. Provisioned: {VariantName, InstanceType, InitialInstanceCount, InitialVariantWeight}; serverless: {VariantName, ServerlessConfig = {MemorySizeInMB, MaxConcurrency}}."
  type = object({
    VariantName          = string
    InstanceType         = optional(string)
    InitialInstanceCount = optional(number)
    InitialVariantWeight = optional(number, 1)
    ServerlessConfig = optional(object({
      MemorySizeInMB = number
      MaxConcurrency = number
    }))
  })

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.production_variant.VariantName))
    error_message = "production_variant.VariantName must be 1-63 letters, digits and hyphens."
  }

  validation {
    condition = (
      var.production_variant.ServerlessConfig != null
      ? var.production_variant.InstanceType == null && var.production_variant.InitialInstanceCount == null
      : can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.production_variant.InstanceType)) && try(var.production_variant.InitialInstanceCount >= 1 && floor(var.production_variant.InitialInstanceCount) == var.production_variant.InitialInstanceCount, false)
    )
    error_message = "production_variant must be either provisioned (InstanceType such as ml.m5.large and a whole InitialInstanceCount of at least 1, no ServerlessConfig) or serverless (ServerlessConfig only)."
  }
}

variable "capture_percentage" {
  description = "Percentage of endpoint requests (and responses) captured for Model Monitor: modules/endpoint's data_capture_percentage. null: no capture (the endpoint configs of a provisioned endpoint say EnableCapture = false; a serverless one gets no DataCaptureConfig, which Serverless Inference refuses)."
  type        = number
  default     = null

  validation {
    condition     = var.capture_percentage == null || try(var.capture_percentage >= 1 && var.capture_percentage <= 100 && floor(var.capture_percentage) == var.capture_percentage, false)
    error_message = "capture_percentage must be a whole number between 1 and 100, or null for no capture."
  }
}

variable "instance_store_families" {
  description = "Instance families (the middle of ml.<family>.<size>) with local NVMe instance storage. SageMaker refuses a KMS key for their ML storage volume (it is encrypted by the instance's hardware), so with kms_key_arn set the pipeline passes VolumeKmsKeyId (training) and the endpoint config's KmsKeyId only for other families. Extend it when AWS adds such a family (EC2 User Guide, \"Instance store volumes\"; SageMaker names ml.p4d, ml.g4dn and ml.g5 among them: https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-tips-considerations.html)."
  type        = list(string)
  default = [
    "c5d", "c6gd", "c6id", "c7gd", "m5d", "m5ad", "m6gd", "m6id", "m7gd", "r5d", "r6gd", "r6id", "r7gd",
    "g4dn", "g4ad", "g5", "g6", "g6e", "gr6", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n",
  ]

  validation {
    condition     = alltrue([for family in var.instance_store_families : can(regex("^[a-z0-9]+$", family))])
    error_message = "instance_store_families must be family names such as m5d or g4dn (lowercase letters and digits)."
  }
}

variable "endpoint_poll_seconds" {
  description = "How long the state machine waits between DescribeEndpoint calls while the endpoint is Creating/Updating."
  type        = number
  default     = 30

  validation {
    condition     = var.endpoint_poll_seconds >= 1 && var.endpoint_poll_seconds <= 3600 && floor(var.endpoint_poll_seconds) == var.endpoint_poll_seconds
    error_message = "endpoint_poll_seconds must be a whole number between 1 and 3600."
  }
}

variable "write_baseline_function_arn" {
  description = "ARN of the Lambda function that writes the monitoring baseline (payload: endpoint_name, test_s3_uri, baseline_s3_prefix, training_job_name)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+$", var.write_baseline_function_arn))
    error_message = "write_baseline_function_arn must be an unqualified Lambda function ARN."
  }
}

variable "notification_emails" {
  description = "Email addresses subscribed to the pipeline's notifications (each must confirm its subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "notification_emails must be email addresses."
  }
}

variable "training_instance_type" {
  description = "Instance type the launcher asks for when Terraform launches a run (launch_on_apply)."
  type        = string
  default     = "ml.m5.xlarge"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.training_instance_type))
    error_message = "training_instance_type must be a SageMaker instance type such as ml.m5.xlarge."
  }
}

variable "launch_on_apply" {
  description = "Run python -m training.launch after apply (and again when the training code, the dataset prefix or the state machine changes). Needs Python with the repository's packages on the machine running Terraform."
  type        = bool
  default     = false
}

variable "launch_algorithm" {
  description = "Algorithm of the run launched on apply: pytorch (script mode) or builtin (SageMaker image-classification; AWS only)."
  type        = string
  default     = "pytorch"

  validation {
    condition     = contains(["pytorch", "builtin"], var.launch_algorithm)
    error_message = "launch_algorithm must be pytorch or builtin."
  }
}

variable "launch_hyperparameters" {
  description = "Hyperparameter overrides for the run launched on apply (passed as --hyperparameter KEY=VALUE)."
  type        = map(string)
  default     = {}
}

variable "launcher_python" {
  description = "Python interpreter that runs the launcher (the repository's .venv/bin/python, for example)."
  type        = string
  default     = "python3"
}

variable "launcher_working_dir" {
  description = "Repository root, where `python -m training.launch` is importable. null: three folders above this module."
  type        = string
  default     = null
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed Powertools layer for evaluate_model; null attaches none."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the evaluate function's and the state machine's log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "execution_log_level" {
  description = "State machine logging level (a Standard workflow also keeps its full execution history)."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.execution_log_level)
    error_message = "execution_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

################################################################################
# Safe deployments: registry, approval, rollout, smoke test
################################################################################

variable "require_approval" {
  description = "Whether a person must approve each model version that passes the gate before it is deployed. true: the version is registered PendingManualApproval and the pipeline publishes an approval request to the notification topic and waits (python -m training.launch --approve/--reject, or the task token); a rejected or unanswered version is marked Rejected and the run ends as ModelRejected or ApprovalExpired. false: versions are registered Approved and deployed at once."
  type        = bool
  default     = false
  nullable    = false
}

variable "approval_timeout_hours" {
  description = "How long a version waits for approval (require_approval) before it expires, in whole hours. The whole run has 24 hours, training included."
  type        = number
  default     = 8
  nullable    = false

  validation {
    condition     = var.approval_timeout_hours >= 1 && var.approval_timeout_hours <= 12 && floor(var.approval_timeout_hours) == var.approval_timeout_hours
    error_message = "approval_timeout_hours must be a whole number of hours from 1 to 12 (the pipeline's run is limited to 24 hours)."
  }
}

variable "deployment_strategy" {
  description = "How a new model version replaces the serving one on an existing endpoint. all_at_once: SageMaker's default blue/green update (no DeploymentConfig). canary: deployment.traffic_step_percent of the capacity first, baked deployment.wait_interval_seconds, then the rest. linear: steps of deployment.traffic_step_percent, each baked. canary and linear roll back automatically when one of rollback_alarm_names is in ALARM while a step bakes (run then ends as DeploymentRolledBack)."
  type        = string
  default     = "all_at_once"
  nullable    = false

  validation {
    condition     = contains(["all_at_once", "canary", "linear"], var.deployment_strategy)
    error_message = "deployment_strategy must be all_at_once, canary or linear."
  }
}

variable "deployment" {
  description = <<-EOT
    Settings of the canary or linear rollout (ignored for all_at_once): traffic_step_percent is the canary's size
    (1-50 % of the capacity) or each linear step (10-50 %); wait_interval_seconds bakes each step short of 100 %,
    termination_wait_seconds the last one before the old fleet is terminated (both 0-3600); the rollout is rolled
    back if it is still running after maximum_execution_timeout_seconds (600-28800, more than the waits add up to).
    SageMaker's limits: API_TrafficRoutingConfig, API_BlueGreenUpdatePolicy.
  EOT
  type = object({
    traffic_step_percent              = optional(number, 10)
    wait_interval_seconds             = optional(number, 600)
    termination_wait_seconds          = optional(number, 300)
    maximum_execution_timeout_seconds = optional(number, 3600)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for value in [var.deployment.wait_interval_seconds, var.deployment.termination_wait_seconds] :
      value >= 0 && value <= 3600 && floor(value) == value
    ])
    error_message = "deployment.wait_interval_seconds and deployment.termination_wait_seconds must be whole numbers of seconds from 0 to 3600."
  }

  validation {
    condition     = var.deployment.maximum_execution_timeout_seconds >= 600 && var.deployment.maximum_execution_timeout_seconds <= 28800 && floor(var.deployment.maximum_execution_timeout_seconds) == var.deployment.maximum_execution_timeout_seconds
    error_message = "deployment.maximum_execution_timeout_seconds must be a whole number of seconds from 600 to 28800."
  }

  validation {
    condition     = var.deployment.traffic_step_percent >= 1 && var.deployment.traffic_step_percent <= 50 && floor(var.deployment.traffic_step_percent) == var.deployment.traffic_step_percent
    error_message = "deployment.traffic_step_percent must be a whole percentage from 1 to 50 (SageMaker allows canaries of at most 50 % of the fleet)."
  }
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms on the endpoint that roll a canary or linear rollout back (AutoRollbackConfiguration.Alarms, 1-10): modules/monitoring's deployment_alarm_names (5xx, p99 latency, error rate). Required unless deployment_strategy is all_at_once."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.rollback_alarm_names) <= 10 && alltrue([for name in var.rollback_alarm_names : length(name) >= 1 && length(name) <= 255 && !strcontains(name, ",")])
    error_message = "rollback_alarm_names holds at most 10 alarm names (SageMaker's limit), each 1-255 characters without commas."
  }
}

variable "class_labels" {
  description = "The model's labels in output order; the smoke test checks that the new model answers with them."
  type        = list(string)
  default     = ["bicycle", "motorcycle"]

  validation {
    condition     = length(var.class_labels) >= 2 && length(distinct(var.class_labels)) == length(var.class_labels) && alltrue([for label in var.class_labels : !strcontains(label, ",")])
    error_message = "class_labels must be two or more distinct labels without commas."
  }
}

variable "smoke_test_images" {
  description = "How many known test images (spread over the labels) the smoke test sends through the endpoint after each deployment."
  type        = number
  default     = 4

  validation {
    condition     = var.smoke_test_images >= 1 && var.smoke_test_images <= 50 && floor(var.smoke_test_images) == var.smoke_test_images
    error_message = "smoke_test_images must be a whole number from 1 to 50."
  }
}
