output "policy_json" {
  description = "policy_json with the log-delivery and X-Ray statements appended: the state machine role's whole inline policy."
  value       = data.aws_iam_policy_document.this.json
}
