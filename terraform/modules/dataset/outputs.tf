output "dataset_uri" {
  description = "S3 URI of the dataset folder (holds manifest.json once a load has completed)."
  value       = local.dataset_uri
}

output "manifest_uri" {
  description = "S3 URI of manifest.json, written last by every load."
  value       = "${local.dataset_uri}manifest.json"
}

output "channels" {
  description = "S3 URI per training channel (train, validation, test); each holds its PNGs and <channel>.lst."
  value       = { for channel in ["train", "validation", "test"] : channel => "${local.dataset_uri}${channel}/" }
}

output "etl_command" {
  description = "The command the ETL runs (from repo_root); useful to run it by hand when enabled = false."
  value       = local.etl_command
}

output "etl_run_id" {
  description = "Id of the ETL run, changing whenever the ETL re-runs; null when disabled. Depend on it to order work after the load."
  value       = var.enabled ? terraform_data.etl[0].id : null
}
