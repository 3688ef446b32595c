output "data_bucket_name" {
  description = "Name of the data bucket."
  value       = aws_s3_bucket.this["data"].bucket
}

output "data_bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.this["data"].arn
}

output "capture_bucket_name" {
  description = "Name of the capture bucket."
  value       = aws_s3_bucket.this["capture"].bucket
}

output "capture_bucket_arn" {
  description = "ARN of the capture bucket."
  value       = aws_s3_bucket.this["capture"].arn
}

output "public_access_block" {
  description = "The public access block settings of each bucket, keyed data/capture (all four must be true)."
  value = {
    for key, block in aws_s3_bucket_public_access_block.this : key => {
      block_public_acls       = block.block_public_acls
      block_public_policy     = block.block_public_policy
      ignore_public_acls      = block.ignore_public_acls
      restrict_public_buckets = block.restrict_public_buckets
    }
  }
}

output "bucket_policy_json" {
  description = "The bucket policy of each bucket, keyed data/capture (each denies requests without TLS)."
  value       = { for key, policy in aws_s3_bucket_policy.this : key => policy.policy }
}
