variable "data_bucket_name" {
  description = "Name of the data bucket (datasets, model artifacts, incoming images)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.data_bucket_name))
    error_message = "data_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "capture_bucket_name" {
  description = "Name of the bucket that receives the endpoint's data capture (and Model Monitor reports)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.capture_bucket_name))
    error_message = "capture_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS on both buckets. null uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "capture_retention_days" {
  description = "Days after which captured requests/responses expire from the capture bucket."
  type        = number
  default     = 90

  validation {
    condition     = var.capture_retention_days >= 1 && floor(var.capture_retention_days) == var.capture_retention_days
    error_message = "capture_retention_days must be a whole number of days, at least 1."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted object version is kept (both buckets are versioned)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets. Keep false for real accounts; the embedded AWS sets true."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}
