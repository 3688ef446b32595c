variable "name_prefix" {
  description = "Prefix of every name the module creates (user pool, client, table, function)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "lambda_artifacts_dir" {
  description = "Folder holding review_console.zip (scripts/build_lambdas)."
  type        = string
}

variable "review_queue_url" {
  description = "URL of the human-review queue (modules/inference_workflow human_review_queue_url; wired, so not validated here)."
  type        = string
}

variable "review_queue_arn" {
  description = "ARN of the human-review queue."
  type        = string
}

variable "decision_bus_arn" {
  description = "ARN of the decision bus the reviewers' decisions are published on (the model's decisions' bus)."
  type        = string
}

variable "decision_event_source" {
  description = "source of the decision events (the inference workflow's, so dispatch's rule matches both)."
  type        = string
}

variable "decision_detail_type" {
  description = "detail-type of the decision events (the inference workflow's)."
  type        = string
}

variable "label_routes" {
  description = "Route of each vehicle label (the inference workflow's label_routes): a reviewer's bicycle or motorcycle is routed as the model's would be."
  type        = map(string)

  validation {
    condition     = alltrue([for label in ["bicycle", "motorcycle"] : contains(keys(var.label_routes), label)])
    error_message = "label_routes must give a route to bicycle and motorcycle, the labels a reviewer can choose."
  }
}

variable "data_bucket_arn" {
  description = "ARN of the data bucket: images are read from it (image_prefixes), review records written to it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+$", var.data_bucket_arn))
    error_message = "data_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "image_prefixes" {
  description = "Key prefixes of the images the inference workflow classifies (the console may read only these)."
  type        = list(string)

  validation {
    condition     = length(var.image_prefixes) > 0 && alltrue([for p in var.image_prefixes : endswith(p, "/")])
    error_message = "image_prefixes must list at least one prefix, each ending with '/'."
  }
}

variable "review_records_prefix" {
  description = "Key prefix (in the data bucket) of the decided reviews, one JSON object each (shared.reviews.review_record_key); the ETL and the retrain guard read them."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]$", var.review_records_prefix))
    error_message = "review_records_prefix must be a key prefix without leading or trailing '/'."
  }
}

variable "ground_truth_s3_uri" {
  description = "s3://<bucket>/<prefix> of the ground truth Model Monitor and the scheduled check read (modules/monitoring ground_truth_s3_uri)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]+/.+", var.ground_truth_s3_uri))
    error_message = "ground_truth_s3_uri must be s3://<bucket>/<prefix>."
  }
}

variable "review_lease_seconds" {
  description = "How long a reviewer holds an image (the visibility timeout it is received with); a decision after it is 409 ReviewExpired and the image is back on the queue."
  type        = number
  default     = 300

  validation {
    # SQS: a visibility timeout is 0 to 43200 s (12 h).
    condition     = var.review_lease_seconds >= 30 && var.review_lease_seconds <= 43200 && floor(var.review_lease_seconds) == var.review_lease_seconds
    error_message = "review_lease_seconds must be a whole number of seconds between 30 and 43200 (the SQS maximum)."
  }
}

variable "password_minimum_length" {
  description = "Minimum length of a reviewer's password (Cognito password policy; upper, lower, digit and symbol are required too)."
  type        = number
  default     = 12

  validation {
    condition     = var.password_minimum_length >= 8 && var.password_minimum_length <= 99
    error_message = "password_minimum_length must be between 8 and 99 (Cognito's limits; below 8 is refused)."
  }
}

variable "access_token_validity_minutes" {
  description = "How long a reviewer's access (and ID) token is valid, in minutes; the page logs in again after it."
  type        = number
  default     = 60

  validation {
    condition     = var.access_token_validity_minutes >= 5 && var.access_token_validity_minutes <= 1440
    error_message = "access_token_validity_minutes must be between 5 and 1440 (Cognito's limits)."
  }
}

variable "mfa_configuration" {
  description = "Cognito MFA for reviewers: OFF, OPTIONAL or ON (TOTP authenticator apps). The page's login does not answer MFA challenges yet, so ON needs a page that does."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.mfa_configuration)
    error_message = "mfa_configuration must be OFF, OPTIONAL or ON."
  }
}

variable "deletion_protection" {
  description = "Protect the user pool and the decisions table from deletion (terraform destroy then fails until it is turned off)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the decisions table and the S3 objects; null: AWS-owned keys."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the console's metrics (ReviewsDecided, by reason)."
  type        = string
}

variable "permission_python" {
  description = "Python with boto3 that runs scripts/function_url_permission at apply (adds the function URL's lambda:InvokeFunction statement)."
  type        = string
  default     = "python3"
}

variable "scripts_working_dir" {
  description = "Repository root, where scripts/function_url_permission is; null: three levels above this module."
  type        = string
  default     = null
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed Powertools layer; null attaches none."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
