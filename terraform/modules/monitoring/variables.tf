################################################################################
# Names
################################################################################

variable "name_prefix" {
  description = "Prefix of every name the module creates (schedule, job definition, role, dashboard, alarms, topic, function)."
  type        = string
  default     = "courier-vehicle"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.name_prefix)) && length(var.name_prefix) <= 24
    error_message = "name_prefix must be at most 24 characters of lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

################################################################################
# What is monitored
################################################################################

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint (with data capture enabled) to monitor."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "endpoint_variant_name" {
  description = "Production variant of the endpoint, for the AWS/SageMaker metrics' VariantName dimension."
  type        = string
  default     = "AllTraffic"
}

variable "endpoint_exists" {
  description = "Whether the endpoint exists yet. The deploy step of the training pipeline creates it, and SageMaker refuses a monitoring schedule for a missing endpoint: apply with false first, run the pipeline, then apply with true (see README)."
  type        = bool
  default     = false
}

variable "class_labels" {
  description = "Class labels in the model's output order; the record preprocessor reports the top label by these names."
  type        = list(string)
  default     = ["bicycle", "motorcycle"]

  validation {
    condition     = length(var.class_labels) >= 2 && alltrue([for label in var.class_labels : can(regex("^[a-z0-9_-]+$", label))])
    error_message = "class_labels must hold at least two labels of lowercase letters, digits, \"_\" and \"-\"."
  }
}

################################################################################
# Storage
################################################################################

variable "data_bucket_name" {
  description = "Bucket holding the monitoring files: <monitoring_prefix>/code (record preprocessor), /baseline (statistics.json, constraints.json written by the pipeline's baseline step) and /reports (monitoring executions' output)."
  type        = string
}

variable "monitoring_prefix" {
  description = "Key prefix of the monitoring files in data_bucket_name (no leading or trailing slash)."
  type        = string
  default     = "monitoring"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.monitoring_prefix))
    error_message = "monitoring_prefix must be an S3 key prefix without leading or trailing slashes."
  }
}

variable "capture_bucket_name" {
  description = "Bucket the endpoint writes its data capture to; the monitoring job reads it."
  type        = string
}

variable "capture_prefix" {
  description = "Key prefix of the endpoint's data capture in capture_bucket_name (\"\" for the whole bucket)."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "KMS key encrypting the buckets. null: SSE-S3 (the monitoring role then needs no KMS permissions)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

################################################################################
# The drift check
################################################################################

variable "monitoring_engine" {
  description = "Which engine checks the captured traffic: \"scheduled_check\" (EventBridge Scheduler -> a Lambda running monitoring/scheduled_check.py; any account can use it) or \"model_monitor\" (SageMaker Model Monitor's data-quality job definition and schedule; AWS no longer opens Model Monitor to new customers). Both write the same reports and metrics and trigger the same retrain guard."
  type        = string
  default     = "scheduled_check"

  validation {
    condition     = contains(["scheduled_check", "model_monitor"], var.monitoring_engine)
    error_message = "monitoring_engine must be \"scheduled_check\" or \"model_monitor\"."
  }
}

variable "check_memory_size" {
  description = "Memory of the scheduled_check function, in MB (it holds one window's feature rows, not the images)."
  type        = number
  default     = 1024

  validation {
    condition     = var.check_memory_size >= 256 && var.check_memory_size <= 10240 && floor(var.check_memory_size) == var.check_memory_size
    error_message = "check_memory_size must be a whole number of MB between 256 and 10240."
  }
}

variable "record_preprocessor_path" {
  description = "Local path of the Model Monitor record preprocessor to upload (model_monitor). null: monitoring/record_preprocessor.py of this repository."
  type        = string
  default     = null
}

variable "schedule_expression" {
  description = "When the drift check runs, for either engine (SageMaker accepts hourly or daily cron expressions; EventBridge Scheduler reads the same cron syntax)."
  type        = string
  default     = "cron(0 * ? * * *)"

  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a cron(...) expression, e.g. cron(0 * ? * * *) for hourly."
  }
}

variable "monitoring_instance_type" {
  description = "Instance type of the Model Monitor processing job (model_monitor)."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.monitoring_instance_type))
    error_message = "monitoring_instance_type must be a SageMaker instance type such as ml.m5.large."
  }
}

variable "monitoring_volume_size_gb" {
  description = "EBS volume of the Model Monitor job, in GB (model_monitor)."
  type        = number
  default     = 20

  validation {
    condition     = var.monitoring_volume_size_gb >= 1 && var.monitoring_volume_size_gb <= 512 && floor(var.monitoring_volume_size_gb) == var.monitoring_volume_size_gb
    error_message = "monitoring_volume_size_gb must be a whole number between 1 and 512."
  }
}

variable "monitoring_max_runtime_seconds" {
  description = "Stop a monitoring execution after this long; an hourly schedule allows at most 3600. The scheduled_check function's timeout is this, at most Lambda's 900."
  type        = number
  default     = 1800

  validation {
    condition     = var.monitoring_max_runtime_seconds >= 60 && var.monitoring_max_runtime_seconds <= 3600
    error_message = "monitoring_max_runtime_seconds must be between 60 and 3600."
  }
}

################################################################################
# Pipeline, functions and their metrics
################################################################################

variable "pipeline_state_machine_arn" {
  description = "ARN of the training pipeline state machine (train -> evaluate -> gate -> deploy): dashboard, failure alarm and the retrain target."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:", var.pipeline_state_machine_arn))
    error_message = "pipeline_state_machine_arn must be a Step Functions state machine ARN."
  }
}

variable "inference_state_machine_arn" {
  description = "ARN of the inference state machine (serialize -> classify -> filter), for the dashboard. null leaves its widget out."
  type        = string
  default     = null
}

variable "lambda_function_names" {
  description = "Lambda functions whose Errors/Throttles/Duration the dashboard shows and whose errors alarm (the retrain guard is added by the module)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' Powertools metrics (POWERTOOLS_METRICS_NAMESPACE; the root module uses name_prefix)."
  type        = string
  default     = "courier-vehicle"
}

variable "metric_services" {
  description = "POWERTOOLS_SERVICE_NAME of each function that emits custom metrics: the value of their \"service\" dimension."
  type        = map(string)
  default = {
    serialize_image   = "serialize_image"
    classify_image    = "classify_image"
    filter_inferences = "filter_inferences"
    evaluate_model    = "evaluate_model"
    inference_api     = "inference_api"
    inference_probe   = "inference_probe"
  }

  validation {
    condition     = alltrue([for key in ["serialize_image", "classify_image", "filter_inferences", "evaluate_model"] : contains(keys(var.metric_services), key)])
    error_message = "metric_services needs the keys serialize_image, classify_image, filter_inferences and evaluate_model."
  }
}

variable "routes" {
  description = "Route names filter_inferences reports in the Routes metric's \"route\" dimension (the values of the root's label_routes)."
  type        = list(string)
  default     = ["nearby", "distant"]
}

################################################################################
# Alarms
################################################################################

variable "alarm_topic_arn" {
  description = "SNS topic every alarm notifies. null creates <name_prefix>-alarms (subscribe on-call to it)."
  type        = string
  default     = null
}

variable "alarm_subscriptions" {
  description = "Who the alarms reach: subscriptions to the alarm topic, each {protocol = \"email\" or \"https\", endpoint = an e-mail address or an https:// URL}. E-mail subscribers confirm from the message SNS sends; an HTTPS endpoint must confirm SNS's subscription request."
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

variable "input_rejecting_function_name" {
  description = "The function whose Lambda Errors include its refusals of bad input, counted by its ImagesRejected metric (serialize_image: a GIF or a missing object is the caller's, not a failure); its errors alarm fires on Errors minus ImagesRejected. null: none."
  type        = string
  default     = null
}

variable "lambda_failures_threshold" {
  description = "Alarm when a function fails (Lambda Errors, minus input refusals for input_rejecting_function_name) at least this many times in 5 minutes. Unsure predictions are routes, not errors, so any failure counts."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_failures_threshold >= 1 && floor(var.lambda_failures_threshold) == var.lambda_failures_threshold
    error_message = "lambda_failures_threshold must be a whole number, at least 1."
  }
}

variable "api_function_name" {
  description = "The inference_api function behind the function URL, for the dashboard's function URL widget (requests refused before the function runs show there only). null: no widget."
  type        = string
  default     = null
}

variable "probe_enabled" {
  description = "Whether the inference workflow runs the synthetic probe: creates the probe-failed and probe-silent alarms on its ProbeFailures and ProbeChecks metrics."
  type        = bool
  default     = false
}

variable "probe_interval_minutes" {
  description = "How often the probe runs (the inference workflow's probe_interval_minutes): the probe alarms' period."
  type        = number
  default     = 5

  validation {
    condition     = var.probe_interval_minutes >= 1 && var.probe_interval_minutes <= 1440 && floor(var.probe_interval_minutes) == var.probe_interval_minutes
    error_message = "probe_interval_minutes must be a whole number of minutes between 1 and 1440."
  }
}

variable "runbook_url" {
  description = "Where docs/runbook.md is read; each alarm description ends with \"Runbook: <runbook_url>#<section>\"."
  type        = string
  default     = "docs/runbook.md"
}

variable "endpoint_5xx_threshold" {
  description = "Alarm when the endpoint returns more than this many 5xx responses in 5 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.endpoint_5xx_threshold >= 0
    error_message = "endpoint_5xx_threshold must be 0 or more."
  }
}

variable "model_latency_p99_ms" {
  description = "Alarm when the endpoint's p99 ModelLatency stays above this many milliseconds (2 of 3 five-minute periods)."
  type        = number
  default     = 500

  validation {
    condition     = var.model_latency_p99_ms > 0
    error_message = "model_latency_p99_ms must be positive."
  }
}

variable "endpoint_error_rate_percent" {
  description = "Alarm (and roll a canary or linear rollout back) when more than this percentage of the endpoint's invocations get a 5xx answer in 5 minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.endpoint_error_rate_percent >= 0 && var.endpoint_error_rate_percent < 100
    error_message = "endpoint_error_rate_percent must be at least 0 and below 100."
  }
}

variable "idle_endpoint_hours" {
  description = "Alarm when the endpoint has answered no invocation for this many hours in a row (it bills for its instances all the same). null: no idle alarm (a serverless endpoint bills nothing while idle)."
  type        = number
  default     = 24

  validation {
    condition     = var.idle_endpoint_hours == null || try(var.idle_endpoint_hours >= 1 && var.idle_endpoint_hours <= 24 && floor(var.idle_endpoint_hours) == var.idle_endpoint_hours, false)
    error_message = "idle_endpoint_hours must be a whole number of hours from 1 to 24, or null."
  }
}

variable "human_review_share_threshold" {
  description = "Alarm when more than this share (0-1) of predictions in an hour go to human review (LowConfidencePredictions / all filtered predictions)."
  type        = number
  default     = 0.3

  validation {
    condition     = var.human_review_share_threshold > 0 && var.human_review_share_threshold < 1
    error_message = "human_review_share_threshold must be strictly between 0 and 1."
  }
}

variable "served_accuracy_alarm_threshold" {
  description = "Alarm when ServedAccuracy (share of reviewed predictions whose top label was the reviewer's, published by the scheduled_check engine from ground-truth labels) is below this in an hour. No labels is not a breach."
  type        = number
  default     = 0.85

  validation {
    condition     = try(var.served_accuracy_alarm_threshold > 0 && var.served_accuracy_alarm_threshold < 1, false)
    error_message = "served_accuracy_alarm_threshold must be strictly between 0 and 1."
  }
}

variable "auto_route_precision_alarm_threshold" {
  description = "Alarm when AutoRoutePrecision (share of reviewed automatic routes that were right; audit samples feed it) is below this in an hour. No labels is not a breach."
  type        = number
  default     = 0.95

  validation {
    condition     = try(var.auto_route_precision_alarm_threshold > 0 && var.auto_route_precision_alarm_threshold < 1, false)
    error_message = "auto_route_precision_alarm_threshold must be strictly between 0 and 1."
  }
}

variable "audit_metric_service" {
  description = "The service dimension of the inference state machine's AuditSampleNotQueued metric (inference_workflow's audit_metric_service output)."
  type        = string
  default     = "inference_workflow"

  validation {
    condition     = length(var.audit_metric_service) > 0
    error_message = "audit_metric_service must not be empty."
  }
}

variable "drift_alarm_threshold" {
  description = "Alarm when any feature in drift_alarm_features has a Model Monitor baseline drift distance above this (match constraints.json's comparison_threshold)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.drift_alarm_threshold > 0 && var.drift_alarm_threshold <= 1
    error_message = "drift_alarm_threshold must be in (0, 1]."
  }
}

variable "drift_alarm_features" {
  description = "Features (names from monitoring/record_preprocessor.py) whose feature_baseline_drift_<name> metric the drift alarm watches; CloudWatch allows at most 10 metrics in one alarm."
  type        = list(string)
  default     = ["brightness", "r_mean", "g_mean", "b_mean", "r_std", "g_std", "b_std", "top_confidence", "predicted_label"]

  validation {
    condition     = length(var.drift_alarm_features) >= 1 && length(var.drift_alarm_features) <= 10
    error_message = "drift_alarm_features must name between 1 and 10 features."
  }
}

variable "dashboard_drift_features" {
  description = "Features shown in the dashboard's drift widgets (every numeric feature of the record preprocessor by default)."
  type        = list(string)
  default = [
    "brightness", "r_mean", "g_mean", "b_mean", "r_std", "g_std", "b_std",
    "width", "height", "byte_size", "top_confidence", "predicted_class_index", "predicted_label", "image_format",
  ]
}

################################################################################
# Retraining on violations
################################################################################

variable "auto_retrain_enabled" {
  description = "Start the training pipeline when a monitoring execution completes with retrainable violations (through the retrain guard: never while a pipeline run is in progress)."
  type        = bool
  default     = true
}

variable "retrain_on_checks" {
  description = "constraint_check_type values that trigger a retrain. Empty: any violation does (the report is then not read)."
  type        = list(string)
  default     = ["baseline_drift_check"]

  validation {
    condition     = alltrue([for check in var.retrain_on_checks : contains(["data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check", "extra_column_check", "categorical_values_check"], check)])
    error_message = "retrain_on_checks may only hold Model Monitor check types (data_type_check, completeness_check, baseline_drift_check, missing_column_check, extra_column_check, categorical_values_check)."
  }
}

variable "retrain_ignore_features" {
  description = "Features whose violations never trigger a retrain: format changes (JPEGs, bigger photos) that a model retrained on the same dataset would not fix."
  type        = list(string)
  default     = ["image_format", "width", "height", "byte_size"]
}

variable "retrain_pipeline_input" {
  description = "JSON object the retrain guard starts the pipeline with. \"{}\": the input of the pipeline's last successful execution (what training/launch.py gave it). Either way training.job_name is dropped, so the pipeline names a fresh training job, and a \"trigger\" key describes the violations."
  type        = string
  default     = "{}"

  validation {
    condition     = can(keys(jsondecode(var.retrain_pipeline_input)))
    error_message = "retrain_pipeline_input must be a JSON object."
  }
}

variable "retrain_min_new_labels" {
  description = "Reviewed labels a retrain waits for: with N > 0 the retrain guard starts the pipeline only once people have given at least N vehicle labels (bicycle or motorcycle, not the synthetic probe's images, one per image) since the start of the pipeline's newest successful run; below N its decision is waiting_for_labels (metric RetrainWaitingForLabels). 0: do not wait."
  type        = number
  default     = 0

  validation {
    condition     = var.retrain_min_new_labels >= 0 && var.retrain_min_new_labels <= 100000 && floor(var.retrain_min_new_labels) == var.retrain_min_new_labels
    error_message = "retrain_min_new_labels must be a whole number from 0 (do not wait) to 100000."
  }
}

variable "review_records_prefix" {
  description = "Key prefix in data_bucket_name under which the review console stores one ReviewRecord JSON per decided review (<prefix>/yyyy/mm/dd/hh/<review_id>.json, functions/shared/reviews.py); the retrain guard counts new labels there. No leading or trailing slash."
  type        = string
  default     = "reviews"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.review_records_prefix))
    error_message = "review_records_prefix must be S3 key segments of letters, digits and !_.*'()- separated by single slashes, without a leading or trailing slash."
  }
}

variable "lambda_artifacts_dir" {
  description = "Folder with the Lambda zips built by scripts/build_lambdas (retrain_guard.zip when auto_retrain_enabled, scheduled_check.zip with the scheduled_check engine)."
  type        = string
  default     = null
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed Powertools layer for the retrain guard and the check function; null attaches none (embedded AWS)."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the retrain guard's and the check function's log groups, in days."
  type        = number
  default     = 30
}
