################################################################################
# Where and what to call things
################################################################################

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "aws_endpoint_url" {
  description = "URL of a local AWS (the embedded moto server of scripts/local_aws, e.g. http://127.0.0.1:5000). null deploys to real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint_url == null || can(regex("^https?://[^/]+/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be a URL such as http://127.0.0.1:5000 (scheme, host and port only), or null."
  }
}

variable "name_prefix" {
  description = "Prefix of every AWS name the stack creates."
  type        = string
  default     = "courier-vehicle"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.name_prefix)) && length(var.name_prefix) <= 24
    error_message = "name_prefix must be at most 24 characters of lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags for every resource (merged over Project and ManagedBy, applied through the provider's default_tags)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")])
    error_message = "Tag keys must be 1-128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

################################################################################
# Storage
################################################################################

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the buckets, queues, the pipeline's topic and SageMaker's data at rest (model artifacts, captures, ML storage volumes); the key policy must allow the roles in the kms_key_principals output (README, \"Customer-managed KMS key\"). null uses SSE-S3, SQS-managed encryption and SageMaker's defaults."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or null."
  }
}

variable "capture_retention_days" {
  description = "Days the endpoint's captured requests and responses are kept in the capture bucket."
  type        = number
  default     = 90

  validation {
    condition     = var.capture_retention_days >= 1 && floor(var.capture_retention_days) == var.capture_retention_days
    error_message = "capture_retention_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete buckets that still hold objects (for throwaway stacks such as the embedded AWS)."
  type        = bool
  default     = false
}

################################################################################
# Lambda functions
################################################################################

variable "lambda_artifacts_dir" {
  description = "Folder with the Lambda zips, named <function>.zip (make lambdas). null: ../build/lambdas relative to this module."
  type        = string
  default     = null
}

variable "lambda_memory_mb" {
  description = "Memory of each inference function, in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of each inference function, in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group the stack creates, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed layer AWSLambdaPowertoolsPythonV3-python311-x86_64. null attaches no layer. The embedded AWS (aws_endpoint_url) accepts the same ARN and supplies the layer's packages locally."
  type        = number
  default     = 27

  validation {
    condition     = var.powertools_layer_version == null || try(var.powertools_layer_version >= 1 && floor(var.powertools_layer_version) == var.powertools_layer_version, false)
    error_message = "powertools_layer_version must be a positive whole number, or null."
  }
}

################################################################################
# Inference
################################################################################

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint that serves the model. null: <name_prefix>-endpoint."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "class_labels" {
  description = "Class labels in the model's output order."
  type        = list(string)
  default     = ["bicycle", "motorcycle"]

  validation {
    condition     = length(var.class_labels) >= 2 && length(distinct(var.class_labels)) == length(var.class_labels) && alltrue([for label in var.class_labels : can(regex("^[a-z0-9_-]+$", label))])
    error_message = "class_labels must hold at least two distinct labels of lowercase letters, digits, \"_\" and \"-\"."
  }
}

variable "label_routes" {
  description = "Route for each class label: nearby or distant (the routes inference.asl.json knows)."
  type        = map(string)
  default = {
    bicycle    = "nearby"
    motorcycle = "distant"
  }

  validation {
    condition     = alltrue([for route in values(var.label_routes) : contains(["nearby", "distant"], route)])
    error_message = "label_routes values must be nearby or distant."
  }
}

variable "confidence_threshold" {
  description = "Override of the minimum top-class confidence for an automatic route; below it the image goes to human review. null (default): the threshold the deployed model chose on validation data in training (model_config.json; the model reports it with every answer), so each model version is routed by its own."
  type        = number
  default     = null

  validation {
    condition     = var.confidence_threshold == null || try(var.confidence_threshold > 0 && var.confidence_threshold < 1, false)
    error_message = "confidence_threshold must be strictly between 0 and 1, or null for the model's own threshold."
  }
}

variable "audit_sample_rate" {
  description = "Share of confident, automatically routed images also sent to the human-review queue (reason AuditSample) after their route is published, so the precision of automatic routes is measured from reviewers' labels (AutoRoutePrecision) instead of assumed. It costs reviewer time: at 0.05, a person looks at one in twenty automatic routes on top of the unsure ones. The courier's route is never delayed; 0 turns audits off."
  type        = number
  default     = 0.05

  validation {
    condition     = try(var.audit_sample_rate >= 0 && var.audit_sample_rate <= 1, false)
    error_message = "audit_sample_rate must be between 0 and 1 (a share of automatic routes)."
  }
}

variable "served_accuracy_alarm_threshold" {
  description = "Alarm when the served model's accuracy on reviewed labels (ServedAccuracy, computed by the scheduled_check engine from ground-truth labels) falls below this share in an hour. No labels in an hour is not a breach."
  type        = number
  default     = 0.85

  validation {
    condition     = try(var.served_accuracy_alarm_threshold > 0 && var.served_accuracy_alarm_threshold < 1, false)
    error_message = "served_accuracy_alarm_threshold must be strictly between 0 and 1."
  }
}

variable "auto_route_precision_alarm_threshold" {
  description = "Alarm when the precision of automatic routes on reviewed labels (AutoRoutePrecision: audit samples and other labelled confident predictions) falls below this share in an hour. The confidence threshold is chosen for 99 % precision, so the default leaves room for a few wrong labels among few samples. No labels in an hour is not a breach."
  type        = number
  default     = 0.95

  validation {
    condition     = try(var.auto_route_precision_alarm_threshold > 0 && var.auto_route_precision_alarm_threshold < 1, false)
    error_message = "auto_route_precision_alarm_threshold must be strictly between 0 and 1."
  }
}

variable "max_image_bytes" {
  description = "Largest image object serialize_image accepts, in bytes."
  type        = number
  default     = 5242880

  validation {
    condition     = var.max_image_bytes >= 1024 && floor(var.max_image_bytes) == var.max_image_bytes
    error_message = "max_image_bytes must be a whole number of bytes, at least 1024."
  }
}

variable "max_image_pixels" {
  description = "Largest image serialize_image decodes, in pixels (decompression-bomb guard)."
  type        = number
  default     = 25000000

  validation {
    condition     = var.max_image_pixels >= 1024 && floor(var.max_image_pixels) == var.max_image_pixels
    error_message = "max_image_pixels must be a whole number, at least 1024."
  }
}

variable "inference_image_prefixes" {
  description = "Key prefixes of the data bucket that the inference workflow may read images from."
  type        = list(string)
  default     = ["incoming/"]

  validation {
    condition     = length(var.inference_image_prefixes) > 0 && alltrue([for prefix in var.inference_image_prefixes : can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*/$", prefix))])
    error_message = "inference_image_prefixes must be a non-empty list of key prefixes ending with \"/\", without wildcards (for example \"incoming/\")."
  }
}

variable "inference_workflow_type" {
  description = "Step Functions type of the inference workflow: EXPRESS or STANDARD."
  type        = string
  default     = "EXPRESS"

  validation {
    condition     = contains(["EXPRESS", "STANDARD"], var.inference_workflow_type)
    error_message = "inference_workflow_type must be EXPRESS or STANDARD."
  }
}

################################################################################
# Dataset (ETL hook)
################################################################################

variable "load_dataset_on_apply" {
  description = "Run the ETL (python -m etl) into the data bucket during apply. Off by default: most teams load data with scripts/run_etl."
  type        = bool
  default     = false
}

variable "dataset_source" {
  description = "What the ETL reads when load_dataset_on_apply is true: the official CIFAR-100 python archive URL or a local path."
  type        = string
  default     = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
}

variable "dataset_prefix" {
  description = "Prefix of the dataset in the data bucket (train/, validation/, test/ and manifest.json below it)."
  type        = string
  default     = "datasets/cifar-bikes"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*[a-z0-9]$", var.dataset_prefix))
    error_message = "dataset_prefix must be a relative S3 prefix without leading or trailing slashes."
  }
}

################################################################################
# Training pipeline
################################################################################

variable "accuracy_threshold" {
  description = "Gate of the training pipeline: a model is deployed only when its test accuracy is at least this."
  type        = number
  default     = 0.80

  validation {
    condition     = var.accuracy_threshold > 0 && var.accuracy_threshold <= 1
    error_message = "accuracy_threshold must be in (0, 1]."
  }
}

variable "training_instance_type" {
  description = "SageMaker instance type of training jobs."
  type        = string
  default     = "ml.m5.xlarge"

  validation {
    condition     = can(regex("^ml\\.", var.training_instance_type))
    error_message = "training_instance_type must be a SageMaker instance type (ml.*)."
  }
}

variable "endpoint_poll_seconds" {
  description = "How often the pipeline checks whether a new endpoint version is in service."
  type        = number
  default     = 30

  validation {
    condition     = var.endpoint_poll_seconds >= 1 && var.endpoint_poll_seconds <= 300
    error_message = "endpoint_poll_seconds must be between 1 and 300."
  }
}

variable "notification_emails" {
  description = "E-mail addresses subscribed to the pipeline's notifications (rejected model, failures)."
  type        = list(string)
  default     = []
}

variable "launch_on_apply" {
  description = "Run the training pipeline from Terraform (terraform_data + the launcher) after the infrastructure exists; the endpoint-dependent resources then wait for it (one-phase first apply)."
  type        = bool
  default     = false
}

################################################################################
# Safe deployments (see terraform/modules/training_pipeline/README.md, "Registry, approval, rollout")
################################################################################

variable "require_approval" {
  description = "A person approves each model version that passes the gate before it is deployed (python -m training.launch --approve/--reject; the request goes to the notification topic). false: versions are registered Approved and deployed at once."
  type        = bool
  default     = false
}

variable "approval_timeout_hours" {
  description = "How long a version waits for approval before it expires (marked Rejected, not deployed): 1-12 hours."
  type        = number
  default     = 8
}

variable "deployment_strategy" {
  description = "How a new model version replaces the serving one: all_at_once (SageMaker's default blue/green), canary or linear (traffic shifted in steps; rolled back automatically when the endpoint's 5xx, latency or error-rate alarm trips)."
  type        = string
  default     = "all_at_once"

  validation {
    condition     = contains(["all_at_once", "canary", "linear"], var.deployment_strategy)
    error_message = "deployment_strategy must be all_at_once, canary or linear."
  }
}

variable "deployment" {
  description = "Canary/linear settings: traffic_step_percent (canary 1-50, linear 10-50), wait_interval_seconds and termination_wait_seconds (0-3600 each), maximum_execution_timeout_seconds (600-28800)."
  type = object({
    traffic_step_percent              = optional(number, 10)
    wait_interval_seconds             = optional(number, 600)
    termination_wait_seconds          = optional(number, 300)
    maximum_execution_timeout_seconds = optional(number, 3600)
  })
  default = {}
}

variable "endpoint_error_rate_percent" {
  description = "The endpoint error-rate alarm (which also rolls canary/linear rollouts back): 5xx answers above this percentage of invocations in 5 minutes."
  type        = number
  default     = 5
}

variable "idle_endpoint_hours" {
  description = "Alarm when a provisioned endpoint has answered no request for this many hours (1-24) while it bills; null turns the alarm off."
  type        = number
  default     = 24
}

variable "destroy_deletes_endpoint" {
  description = "terraform destroy also deletes the pipeline-owned endpoint, its endpoint configs and models, and the registry's versions (scripts/cleanup_endpoint; needs cleanup_python with boto3). false: they are left, and the endpoint keeps billing."
  type        = bool
  default     = false
}

variable "cleanup_python" {
  description = "Python with boto3 that runs scripts/cleanup_endpoint at destroy (destroy_deletes_endpoint), e.g. .venv/bin/python from the repository root."
  type        = string
  default     = "python3"
}

################################################################################
# Endpoint
################################################################################

variable "endpoint_exists" {
  description = "Whether the pipeline has deployed the endpoint. false on the first apply; true afterwards creates the monitoring schedule and autoscaling (two-phase first apply, see terraform/modules/endpoint/README.md)."
  type        = bool
  default     = false
}

variable "endpoint_instance_type" {
  description = "Instance type of the endpoint's variant: every endpoint config the pipeline creates uses it, and the launcher must pick the serving image for it (--inference-instance-type; launch_command has it)."
  type        = string
  default     = "ml.m5.large"
}

variable "endpoint_initial_instance_count" {
  description = "Instances a new endpoint starts with; a retrain keeps the running (autoscaled) count."
  type        = number
  default     = 1
}

variable "endpoint_serverless" {
  description = "SageMaker Serverless Inference instead of instances ({memory_size_mb, max_concurrency}); null for instances. Serverless endpoints capture no data, so Model Monitor stays off."
  type = object({
    memory_size_mb  = number
    max_concurrency = number
  })
  default = null
}

variable "capture_percentage" {
  description = "Share of endpoint requests and responses captured for Model Monitor; 0 turns capture (and with it the monitoring schedule) off. Must be 0 with endpoint_serverless: Serverless Inference cannot capture."
  type        = number
  default     = 100

  validation {
    condition     = var.capture_percentage >= 0 && var.capture_percentage <= 100 && floor(var.capture_percentage) == var.capture_percentage
    error_message = "capture_percentage must be a whole number between 0 and 100."
  }
}

variable "endpoint_autoscaling" {
  description = "Autoscaling of the endpoint's instances: min/max instance count and invocations per instance to aim for."
  type = object({
    min_capacity                    = optional(number, 1)
    max_capacity                    = optional(number, 4)
    target_invocations_per_instance = optional(number, 100)
    scale_in_cooldown               = optional(number, 300)
    scale_out_cooldown              = optional(number, 60)
  })
  default = {}
}

################################################################################
# Monitoring and on-call
################################################################################

variable "monitoring_engine" {
  description = "The drift check's engine: \"scheduled_check\" (EventBridge Scheduler -> a Lambda; every account can run it) or \"model_monitor\" (SageMaker Model Monitor, which AWS no longer opens to new customers). Same reports, metrics and retrain trigger either way (terraform/modules/monitoring/README.md)."
  type        = string
  default     = "scheduled_check"

  validation {
    condition     = contains(["scheduled_check", "model_monitor"], var.monitoring_engine)
    error_message = "monitoring_engine must be \"scheduled_check\" or \"model_monitor\"."
  }
}

variable "auto_retrain_enabled" {
  description = "Start the training pipeline when a monitoring run reports drift (at most one run at a time)."
  type        = bool
  default     = true
}

variable "retrain_min_new_labels" {
  description = "Reviewed labels a drift retrain waits for: N > 0 makes the retrain guard start the pipeline only once people have given at least N vehicle labels (not the probe's images) since the newest successful pipeline run, so the retrain has labels to learn from (build them into a dataset version with `python -m etl --add-reviewed`, docs/runbook.md). 0: do not wait."
  type        = number
  default     = 0

  validation {
    condition     = var.retrain_min_new_labels >= 0 && var.retrain_min_new_labels <= 100000 && floor(var.retrain_min_new_labels) == var.retrain_min_new_labels
    error_message = "retrain_min_new_labels must be a whole number from 0 (do not wait) to 100000."
  }
}

variable "probe_enabled" {
  description = "Run the synthetic probe: the probe images through the inference workflow every probe_interval_minutes, alarming on a wrong route, a failure or silence (so breakage shows at zero traffic)."
  type        = bool
  default     = true
}

variable "probe_interval_minutes" {
  description = "How often the synthetic probe runs, in minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.probe_interval_minutes >= 1 && var.probe_interval_minutes <= 1440 && floor(var.probe_interval_minutes) == var.probe_interval_minutes
    error_message = "probe_interval_minutes must be a whole number of minutes between 1 and 1440."
  }
}

variable "probe_images" {
  description = "The probe's known images, file name under <first inference image prefix>probes/ => the route it must get. Place one bicycle and one motorcycle photo the deployed model classifies confidently there (the demo does, from the test images)."
  type        = map(string)
  default = {
    "bicycle.png"    = "nearby"
    "motorcycle.png" = "distant"
  }

  validation {
    condition     = length(var.probe_images) >= 1 && alltrue([for name, route in var.probe_images : can(regex("^[A-Za-z0-9._-]+\\.(png|jpe?g)$", name)) && contains(["nearby", "distant"], route)])
    error_message = "probe_images must map PNG/JPEG file names (letters, digits, . _ -) to nearby or distant."
  }
}

variable "alarm_subscriptions" {
  description = "Who the on-call alarms reach: subscriptions to the alarm topic, each {protocol = \"email\" or \"https\", endpoint = an e-mail address or an https:// URL (a paging tool's SNS endpoint)}. E-mail subscribers confirm from the message SNS sends; an HTTPS endpoint must confirm SNS's subscription request."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.alarm_subscriptions : contains(["email", "https"], s.protocol)])
    error_message = "alarm_subscriptions protocols must be \"email\" or \"https\"."
  }

  validation {
    condition = alltrue([
      for s in var.alarm_subscriptions :
      s.protocol == "email" ? can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", s.endpoint)) : can(regex("^https://[^/\\s]+(/\\S*)?$", s.endpoint))
    ])
    error_message = "Each alarm_subscriptions endpoint must be an e-mail address (protocol email) or an https:// URL (protocol https)."
  }

  validation {
    condition     = length(distinct([for s in var.alarm_subscriptions : "${s.protocol}:${s.endpoint}"])) == length(var.alarm_subscriptions)
    error_message = "alarm_subscriptions lists the same subscription twice."
  }
}

variable "human_review_share_threshold" {
  description = "Alarm when more than this share of images goes to human review."
  type        = number
  default     = 0.3

  validation {
    condition     = var.human_review_share_threshold > 0 && var.human_review_share_threshold < 1
    error_message = "human_review_share_threshold must be strictly between 0 and 1."
  }
}

################################################################################
# Review console (people decide the images on the human-review queue)
################################################################################

variable "review_lease_seconds" {
  description = "How long a reviewer holds an image before it goes back to the queue (the visibility timeout it is received with)."
  type        = number
  default     = 300

  validation {
    condition     = var.review_lease_seconds >= 30 && var.review_lease_seconds <= 43200 && floor(var.review_lease_seconds) == var.review_lease_seconds
    error_message = "review_lease_seconds must be a whole number of seconds between 30 and 43200 (the SQS maximum)."
  }
}

variable "function_url_permission_python" {
  description = "Python with boto3 that runs scripts/function_url_permission at apply: the review console URL's lambda:InvokeFunction statement (conditioned on lambda:InvokedViaFunctionUrl), which hashicorp/aws 5.x cannot write. e.g. .venv/bin/python from the repository root."
  type        = string
  default     = "python3"
}

variable "reviewer_password_minimum_length" {
  description = "Minimum length of a reviewer's Cognito password."
  type        = number
  default     = 12

  validation {
    condition     = var.reviewer_password_minimum_length >= 8 && var.reviewer_password_minimum_length <= 99
    error_message = "reviewer_password_minimum_length must be between 8 and 99."
  }
}

variable "reviewer_token_validity_minutes" {
  description = "How long a reviewer stays logged in (Cognito access token validity), in minutes."
  type        = number
  default     = 60

  validation {
    condition     = var.reviewer_token_validity_minutes >= 5 && var.reviewer_token_validity_minutes <= 1440
    error_message = "reviewer_token_validity_minutes must be between 5 and 1440."
  }
}
