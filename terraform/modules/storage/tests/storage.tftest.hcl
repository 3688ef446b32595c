# modules/storage on its own, with a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  data_bucket_name       = "cv-data-123456789012-eu-west-1"
  capture_bucket_name    = "cv-capture-123456789012-eu-west-1"
  capture_retention_days = 45
}

run "blocks_every_kind_of_public_access" {
  assert {
    condition = alltrue([
      for block in values(aws_s3_bucket_public_access_block.this) :
      block.block_public_acls && block.block_public_policy && block.ignore_public_acls && block.restrict_public_buckets
    ]) && length(aws_s3_bucket_public_access_block.this) == 2
    error_message = "Both buckets must block public ACLs and policies, ignore public ACLs and restrict public buckets."
  }

  assert {
    condition     = alltrue([for controls in values(aws_s3_bucket_ownership_controls.this) : controls.rule[0].object_ownership == "BucketOwnerEnforced"])
    error_message = "ACLs must be disabled (BucketOwnerEnforced) on both buckets."
  }
}

run "denies_requests_without_tls" {
  assert {
    condition = alltrue([
      for key, document in data.aws_iam_policy_document.tls_only : (
        document.statement[0].effect == "Deny" &&
        document.statement[0].actions == toset(["s3:*"]) &&
        document.statement[0].resources == toset([aws_s3_bucket.this[key].arn, "${aws_s3_bucket.this[key].arn}/*"]) &&
        one(document.statement[0].condition).variable == "aws:SecureTransport" &&
        one(document.statement[0].condition).test == "Bool" &&
        one(document.statement[0].condition).values == tolist(["false"])
      )
    ])
    error_message = "Each bucket policy must deny every S3 action on the bucket and its objects when aws:SecureTransport is false."
  }

  assert {
    condition     = alltrue([for key, policy in aws_s3_bucket_policy.this : policy.policy == data.aws_iam_policy_document.tls_only[key].json && policy.bucket == aws_s3_bucket.this[key].id]) && length(aws_s3_bucket_policy.this) == 2
    error_message = "The TLS-only policy must be attached to both buckets."
  }
}

run "encrypts_with_sse_s3_by_default" {
  assert {
    condition     = alltrue([for sse in values(aws_s3_bucket_server_side_encryption_configuration.this) : one(one(sse.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"])
    error_message = "Without kms_key_arn both buckets must use SSE-S3 (AES256)."
  }

  assert {
    condition     = alltrue([for versioning in values(aws_s3_bucket_versioning.this) : versioning.versioning_configuration[0].status == "Enabled"])
    error_message = "Both buckets must be versioned."
  }
}

run "encrypts_with_the_kms_key_when_given" {
  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition = alltrue([
      for sse in values(aws_s3_bucket_server_side_encryption_configuration.this) :
      one(one(sse.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(one(sse.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn &&
      one(sse.rule).bucket_key_enabled
    ])
    error_message = "With kms_key_arn both buckets must use SSE-KMS with that key and S3 Bucket Keys."
  }
}

run "expires_capture_data_only" {
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.capture.rule).expiration[0].days == 45 && one(aws_s3_bucket_lifecycle_configuration.capture.rule).status == "Enabled"
    error_message = "Captured data must expire after capture_retention_days."
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.capture.bucket == aws_s3_bucket.this["capture"].id && aws_s3_bucket_lifecycle_configuration.data.bucket == aws_s3_bucket.this["data"].id
    error_message = "Each lifecycle configuration must be on its own bucket."
  }

  assert {
    condition     = length(one(aws_s3_bucket_lifecycle_configuration.data.rule).expiration) == 0
    error_message = "Datasets and models in the data bucket must never expire."
  }
}

run "rejects_invalid_bucket_names" {
  command = plan

  variables {
    data_bucket_name = "Courier_Data"
  }

  expect_failures = [var.data_bucket_name]
}
