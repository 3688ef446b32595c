locals {
  prefix      = trim(var.prefix, "/")
  dataset_uri = "s3://${var.bucket_name}/${local.prefix == "" ? "" : "${local.prefix}/"}"

  # Everything that changes what lands in S3. A change replaces terraform_data.etl, which re-runs the ETL;
  # the ETL itself uploads only objects that differ.
  etl_inputs = {
    source_uri          = var.source_uri
    checksum            = var.checksum == null ? "" : var.checksum
    bucket_name         = var.bucket_name
    prefix              = local.prefix
    classes             = join(",", var.classes)
    validation_fraction = tostring(var.validation_fraction)
    seed                = tostring(var.seed)
  }

  etl_arguments = concat(
    [
      var.python, "-m", "etl",
      "--source", var.source_uri,
      "--output", var.output_dir,
      "--bucket", var.bucket_name,
      "--prefix", local.prefix,
      "--classes", local.etl_inputs.classes,
      "--validation-fraction", local.etl_inputs.validation_fraction,
      "--seed", local.etl_inputs.seed,
      "--quiet",
    ],
    var.checksum == null ? [] : ["--checksum", var.checksum],
  )
  # Single-quoted for /bin/sh, so values with spaces or quotes reach argparse unchanged.
  etl_command = join(" ", [for word in local.etl_arguments : "'${replace(word, "'", "'\\''")}'"])
}

resource "terraform_data" "etl" {
  count = var.enabled ? 1 : 0

  triggers_replace = local.etl_inputs

  provisioner "local-exec" {
    command     = local.etl_command
    working_dir = var.repo_root
    environment = var.environment
  }
}
