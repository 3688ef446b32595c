variable "enabled" {
  description = "Run the ETL during apply. Off by default: it needs Python, the repository's .venv and the archive."
  type        = bool
  default     = false
}

variable "repo_root" {
  description = "Repository root; the ETL runs there (`python -m etl`), and relative `python`/`output_dir` resolve against it. Usually \"$${path.root}/..\"."
  type        = string
}

variable "python" {
  description = "Python interpreter with the project's dependencies, relative to repo_root or absolute."
  type        = string
  default     = ".venv/bin/python"
}

variable "source_uri" {
  description = "CIFAR-100 python archive: URL (downloaded once into the ETL cache) or local path. The official URL's published MD5 is checked."
  type        = string
  default     = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
}

variable "checksum" {
  description = "Expected checksum of the archive as md5:<hex> or sha256:<hex>; null trusts the source (or uses the official URL's MD5)."
  type        = string
  default     = null

  validation {
    condition     = var.checksum == null || can(regex("^(md5:[0-9a-f]{32}|sha256:[0-9a-f]{64})$", var.checksum))
    error_message = "checksum must be md5:<32 hex digits> or sha256:<64 hex digits>."
  }
}

variable "bucket_name" {
  description = "Data bucket the dataset is loaded into. Pass the bucket resource's attribute so the ETL runs after the bucket exists."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "prefix" {
  description = "Key prefix of the dataset in the bucket (no leading or trailing slash needed)."
  type        = string
  default     = "datasets/cifar-bikes"
}

variable "classes" {
  description = "CIFAR-100 fine label names to keep; labels 0..k-1 follow this order."
  type        = list(string)
  default     = ["bicycle", "motorcycle"]

  validation {
    condition     = length(var.classes) >= 2 && length(distinct(var.classes)) == length(var.classes)
    error_message = "classes needs at least two distinct names."
  }
}

variable "validation_fraction" {
  description = "Share of each class's train images held out as the validation channel (stratified, seeded)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.validation_fraction > 0 && var.validation_fraction < 0.5
    error_message = "validation_fraction must be greater than 0 and less than 0.5."
  }
}

variable "seed" {
  description = "Seed of the validation split; the same inputs always give the same dataset."
  type        = number
  default     = 42

  validation {
    condition     = var.seed >= 0 && floor(var.seed) == var.seed
    error_message = "seed must be a non-negative integer."
  }
}

variable "output_dir" {
  description = "Local folder the ETL builds the dataset in before loading it (relative to repo_root or absolute)."
  type        = string
  default     = "build/dataset"
}

variable "environment" {
  description = "Extra environment for the ETL process, e.g. { AWS_ENDPOINT_URL = \"http://127.0.0.1:5000\" } for the local AWS."
  type        = map(string)
  default     = {}
}
