variable "name_prefix" {
  description = "Prefix of every name the module creates (functions, queues, state machine, log groups)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "lambda_artifacts_dir" {
  description = "Folder holding serialize_image.zip, classify_image.zip and filter_inferences.zip (scripts/build_lambdas)."
  type        = string
}

variable "definition_path" {
  description = "Path of the inference state machine's ASL template (placeholders: the three function ARNs, the human-review queue URL, the decision bus, source and detail-type, and the metrics namespace)."
  type        = string
  default     = null
}

variable "workflow_type" {
  description = "Step Functions workflow type: EXPRESS (synchronous, per-request pricing) or STANDARD (durable execution history)."
  type        = string
  default     = "EXPRESS"

  validation {
    condition     = contains(["EXPRESS", "STANDARD"], var.workflow_type)
    error_message = "workflow_type must be EXPRESS or STANDARD."
  }
}

variable "data_bucket_arn" {
  description = "ARN of the bucket the images to classify are read from."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+$", var.data_bucket_arn))
    error_message = "data_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "image_prefixes" {
  description = "Key prefixes of the data bucket that serialize_image may read (s3:GetObject is granted on these only)."
  type        = list(string)
  default     = ["incoming/"]

  validation {
    condition     = length(var.image_prefixes) > 0 && alltrue([for prefix in var.image_prefixes : can(regex("^[A-Za-z0-9!_.()'-][A-Za-z0-9!_.()'/-]*/$", prefix))])
    error_message = "image_prefixes must be a non-empty list of key prefixes ending with \"/\", without wildcards (for example \"incoming/\")."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the data bucket and the queues. null: SSE-S3 on the bucket and SQS-managed SSE on the queues."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint classify_image invokes (the only endpoint it may invoke)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "class_labels" {
  description = "Class labels in the model's output order (CLASS_LABELS of classify_image, comma-joined)."
  type        = list(string)
  default     = ["bicycle", "motorcycle"]

  validation {
    condition     = length(var.class_labels) >= 2 && length(distinct(var.class_labels)) == length(var.class_labels) && alltrue([for label in var.class_labels : can(regex("^[a-z0-9_-]+$", label))])
    error_message = "class_labels must hold at least two distinct labels of lowercase letters, digits, \"_\" and \"-\" (no commas)."
  }
}

variable "label_routes" {
  description = "Route for each class label (LABEL_ROUTES of filter_inferences). The state machine knows the routes nearby and distant."
  type        = map(string)
  default = {
    bicycle    = "nearby"
    motorcycle = "distant"
  }

  validation {
    condition     = alltrue([for route in values(var.label_routes) : contains(["nearby", "distant"], route)])
    error_message = "label_routes values must be routes the state machine's RouteByVehicle state knows: nearby or distant."
  }
}

variable "confidence_threshold" {
  description = "Override of the minimum top-class confidence for an automatic route (CONFIDENCE_THRESHOLD of filter_inferences); below it the image goes to human review. null: the threshold the deployed model chose in training, which it reports with every answer."
  type        = number
  default     = null

  validation {
    condition     = var.confidence_threshold == null || try(var.confidence_threshold > 0 && var.confidence_threshold < 1, false)
    error_message = "confidence_threshold must be strictly between 0 and 1, or null for the model's own threshold."
  }
}

variable "audit_sample_rate" {
  description = "Share of confident, automatically routed images also sent to the human-review queue (reason AuditSample, after their route is published), so the precision of automatic routes is measured from reviewers' labels. Costs reviewer time: at 0.05, one in twenty automatic routes is looked at by a person. 0 turns audits off (AUDIT_SAMPLE_RATE of filter_inferences)."
  type        = number
  default     = 0.05

  validation {
    condition     = try(var.audit_sample_rate >= 0 && var.audit_sample_rate <= 1, false)
    error_message = "audit_sample_rate must be between 0 and 1 (a share of automatic routes)."
  }
}

variable "max_image_bytes" {
  description = "Largest image object serialize_image accepts, in bytes (MAX_IMAGE_BYTES); larger ones raise ImageTooLarge."
  type        = number
  default     = 5242880

  validation {
    condition     = var.max_image_bytes >= 1024 && floor(var.max_image_bytes) == var.max_image_bytes
    error_message = "max_image_bytes must be a whole number of bytes, at least 1024."
  }
}

variable "max_image_pixels" {
  description = "Largest image serialize_image decodes, in pixels (MAX_IMAGE_PIXELS): a guard against decompression bombs."
  type        = number
  default     = 25000000

  validation {
    condition     = var.max_image_pixels >= 1024 && floor(var.max_image_pixels) == var.max_image_pixels
    error_message = "max_image_pixels must be a whole number, at least 1024."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of each of the three functions, in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of each of the three functions, in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed Powertools layer for the three functions; null attaches none."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the functions' and the state machine's log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "execution_log_level" {
  description = "State machine logging level. ALL keeps a trace of every execution (an Express workflow has no other history)."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.execution_log_level)
    error_message = "execution_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "log_execution_data" {
  description = "Whether state machine logs include state inputs and outputs. Off by default: between SerializeImage and ClassifyImage the payload carries the whole image (base64), which would land in CloudWatch Logs for every request."
  type        = bool
  default     = false
}

variable "human_review_retention_seconds" {
  description = "How long a human-review message waits in the queue (and in its dead-letter queue) before SQS deletes it."
  type        = number
  default     = 1209600

  validation {
    condition     = var.human_review_retention_seconds >= 60 && var.human_review_retention_seconds <= 1209600
    error_message = "human_review_retention_seconds must be between 60 and 1209600 (14 days, the SQS maximum)."
  }
}

variable "human_review_max_receive_count" {
  description = "Receives after which a human-review message that nobody deleted moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.human_review_max_receive_count >= 1 && var.human_review_max_receive_count <= 1000
    error_message = "human_review_max_receive_count must be between 1 and 1000."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

variable "api_enabled" {
  description = "Create the synchronous HTTPS entry point: the inference_api function behind a function URL with AWS_IAM auth (StartSyncExecution of the workflow)."
  type        = bool
  default     = true
}

variable "api_max_image_bytes" {
  description = "Largest image the HTTPS API accepts in a request body, in bytes. A binary body travels base64-encoded in the 6 MB invocation payload, so Lambda itself refuses bodies above about 4.4 MB before the function runs."
  type        = number
  default     = 4194304

  validation {
    condition     = var.api_max_image_bytes >= 1024 && var.api_max_image_bytes <= 4500000 && floor(var.api_max_image_bytes) == var.api_max_image_bytes
    error_message = "api_max_image_bytes must be a whole number of bytes between 1024 and 4500000 (what fits a 6 MB invocation payload once base64-encoded)."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the inference_api function, in seconds; it answers 504 AnswerTimedOut 3 s before it (the execution still runs to its end and publishes its decision). Express executions run for at most 300 s."
  type        = number
  default     = 30

  validation {
    condition     = var.api_timeout_seconds >= 10 && var.api_timeout_seconds <= 303 && floor(var.api_timeout_seconds) == var.api_timeout_seconds
    error_message = "api_timeout_seconds must be a whole number between 10 and 303 (an Express execution's 300 s plus the answer)."
  }
}

variable "probe_enabled" {
  description = "Run the synthetic probe: the probe images through the workflow every probe_interval_minutes (EventBridge rule -> inference_probe), reporting ProbeChecks and ProbeFailures."
  type        = bool
  default     = true
}

variable "probe_interval_minutes" {
  description = "How often the probe runs, in minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.probe_interval_minutes >= 1 && var.probe_interval_minutes <= 1440 && floor(var.probe_interval_minutes) == var.probe_interval_minutes
    error_message = "probe_interval_minutes must be a whole number of minutes between 1 and 1440."
  }
}

variable "probe_images" {
  description = "The probe's known images, file name under <first image prefix>probes/ => the route it must get (one bicycle and one motorcycle the deployed model classifies confidently)."
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

variable "probe_image_files" {
  description = "Probe images for Terraform to upload: file name (a key of probe_images) => local path. {} (default): the images are placed by other means (the demo places test images the model classified confidently)."
  type        = map(string)
  default     = {}
}
