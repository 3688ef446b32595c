variable "function_name" {
  description = "Name of the Lambda function; also names its role, inline policy and log group."
  type        = string

  validation {
    # Lambda allows 64 characters; the role is "<function_name>-role" and IAM allows 64 for role names.
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.function_name))
    error_message = "function_name must be 1-59 characters of letters, digits, hyphens and underscores."
  }
}

variable "description" {
  description = "What the function does, shown in the Lambda console."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the deployment zip (built by scripts/build_lambdas). A missing file fails the plan, on purpose."
  type        = string
}

variable "handler" {
  description = "Handler entry point inside the zip."
  type        = string
  default     = "app.lambda_handler"
}

variable "runtime" {
  description = "Lambda runtime. The Powertools layer name is built for python3.11, so change both together."
  type        = string
  default     = "python3.11"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python3.11."
  }
}

variable "architecture" {
  description = "Instruction set architecture; the Powertools layer ARN is built for x86_64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64"], var.architecture)
    error_message = "architecture must be x86_64 (the layer ARN and the bundled wheels are built for it)."
  }
}

variable "memory_size" {
  description = "Memory in MB (Lambda allocates CPU in proportion)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "environment" {
  description = "Environment variables for the function; they override the POWERTOOLS_* defaults set by the module."
  type        = map(string)
  default     = {}
}

variable "powertools_service_name" {
  description = "POWERTOOLS_SERVICE_NAME (the service key in logs, traces and metrics). Defaults to function_name."
  type        = string
  default     = null
}

variable "powertools_metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE (the CloudWatch metrics namespace). Defaults to function_name."
  type        = string
  default     = null
}

variable "powertools_log_level" {
  description = "POWERTOOLS_LOG_LEVEL for the function's Logger."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.powertools_log_level)
    error_message = "powertools_log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed layer AWSLambdaPowertoolsPythonV3-python311-x86_64 to attach. null attaches no layer (the embedded AWS provides Powertools itself)."
  type        = number
  default     = null

  validation {
    condition     = var.powertools_layer_version == null || try(var.powertools_layer_version >= 1 && floor(var.powertools_layer_version) == var.powertools_layer_version, false)
    error_message = "powertools_layer_version must be a positive whole number, or null for no layer."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group /aws/lambda/<function_name>, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "policy_json" {
  description = "Extra permissions for the function's role, as the json of an aws_iam_policy_document. null adds none. Statement sids must not start with \"Lambda\" (reserved by the module)."
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: Active samples and sends traces, PassThrough only propagates the trace header."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and limiting) the function; -1 reserves none. 1 makes a function run one invocation at a time."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 or a whole number of 0 or more."
  }
}
