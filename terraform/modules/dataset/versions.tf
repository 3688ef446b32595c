terraform {
  # terraform_data (built in since 1.4) is the only resource; no provider is needed.
  required_version = ">= 1.5.0"
}
