# modules/review_console on its own, with a mocked AWS provider (no AWS calls, no credentials).
#   terraform -chdir=terraform/modules/review_console init -backend=false && terraform -chdir=terraform/modules/review_console test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/cv-reviews" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/cv-review-console-role" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cv-review-console" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:cv-review-console" }
  }

  mock_resource "aws_lambda_function_url" {
    defaults = { function_url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/" }
  }
}

variables {
  name_prefix           = "cv"
  lambda_artifacts_dir  = "tests/fixtures"
  review_queue_url      = "https://sqs.eu-west-1.amazonaws.com/123456789012/cv-human-review"
  review_queue_arn      = "arn:aws:sqs:eu-west-1:123456789012:cv-human-review"
  decision_bus_arn      = "arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions"
  decision_event_source = "cv.inference"
  decision_detail_type  = "Courier Vehicle Decision"
  label_routes          = { bicycle = "nearby", motorcycle = "distant" }
  data_bucket_arn       = "arn:aws:s3:::cv-data"
  image_prefixes        = ["incoming/"]
  review_records_prefix = "reviews"
  ground_truth_s3_uri   = "s3://cv-data/monitoring/ground-truth"
  metrics_namespace     = "cv"
  permission_python     = "true" # the provisioner's command becomes `true scripts/...`: nothing runs in tests
}

run "reviewers_are_created_by_an_administrator_and_log_in_with_user_password_auth" {
  command = apply

  assert {
    condition     = aws_cognito_user_pool.reviewers.admin_create_user_config[0].allow_admin_create_user_only
    error_message = "Nobody may sign up as a reviewer: reviewers are created with AdminCreateUser."
  }

  assert {
    condition     = aws_cognito_user_pool.reviewers.password_policy[0].minimum_length == 12
    error_message = "Reviewer passwords must follow password_minimum_length (default 12)."
  }

  assert {
    condition     = toset(aws_cognito_user_pool_client.console.explicit_auth_flows) == toset(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    error_message = "The page logs in with USER_PASSWORD_AUTH (InitiateAuth) and nothing else."
  }

  assert {
    condition     = aws_cognito_user_pool_client.console.generate_secret == false
    error_message = "A browser cannot keep a client secret: the app client must have none."
  }

  assert {
    condition     = aws_cognito_user_pool_client.console.access_token_validity == 60
    error_message = "Access tokens must last access_token_validity_minutes (60)."
  }
}

run "the_url_is_public_and_the_function_checks_the_token" {
  command = apply

  assert {
    condition     = aws_lambda_function_url.console.authorization_type == "NONE"
    error_message = "The console URL is AuthType NONE (the Cognito check is in the function)."
  }

  assert {
    condition     = output.console_url == "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/"
    error_message = "console_url must be the function URL."
  }

  assert {
    condition = alltrue([
      for name in ["REVIEW_QUEUE_URL", "REVIEW_TABLE", "DECISION_BUS", "DECISION_EVENT_SOURCE", "DECISION_DETAIL_TYPE", "LABEL_ROUTES", "RECORDS_BUCKET", "REVIEW_RECORDS_PREFIX", "GROUND_TRUTH_S3_URI", "USER_POOL_ID", "USER_POOL_CLIENT_ID", "LEASE_SECONDS"] :
      contains(keys(module.function.environment), name)
    ])
    error_message = "The function must receive every setting functions/review_console reads."
  }

  assert {
    condition     = module.function.environment["LABEL_ROUTES"] == jsonencode({ bicycle = "nearby", motorcycle = "distant" })
    error_message = "A reviewer's label is routed with the inference workflow's label_routes."
  }

  assert {
    condition     = module.function.environment["LEASE_SECONDS"] == "300"
    error_message = "The lease is review_lease_seconds (300 by default)."
  }
}

run "one_decision_per_image_is_kept_in_a_recoverable_table" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.reviews.hash_key == "pk" && aws_dynamodb_table.reviews.billing_mode == "PAY_PER_REQUEST"
    error_message = "The reviews table is keyed by pk (lease#... / decision#...), on demand."
  }

  assert {
    condition     = aws_dynamodb_table.reviews.point_in_time_recovery[0].enabled
    error_message = "Decision claims keep decisions single: the table needs point-in-time recovery."
  }

  assert {
    condition     = aws_dynamodb_table.reviews.ttl[0].attribute_name == "ttl" && aws_dynamodb_table.reviews.ttl[0].enabled
    error_message = "Leases expire with DynamoDB TTL on the attribute ttl."
  }
}

run "the_role_reaches_only_the_queue_table_bus_and_prefixes" {
  command = plan

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "LeaseAndDeleteReviewMessages"]) == toset(["arn:aws:sqs:eu-west-1:123456789012:cv-human-review"])
    error_message = "SQS access must be on the human-review queue only."
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.function.statement : s.actions if s.sid == "LeaseAndDeleteReviewMessages"])) == toset(["sqs:ReceiveMessage", "sqs:DeleteMessage"])
    error_message = "The console receives (with the lease as visibility timeout) and deletes review messages, nothing else."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "PublishReviewerDecisions"]) == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/cv-decisions"])
    error_message = "PutEvents must be on the decision bus only."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "StoreReviewRecordsAndGroundTruth"]) == toset(["arn:aws:s3:::cv-data/reviews/*", "arn:aws:s3:::cv-data/monitoring/ground-truth/*"])
    error_message = "The console writes only under the review-records and ground-truth prefixes."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "ShowQueuedImages"]) == toset(["arn:aws:s3:::cv-data/incoming/*"])
    error_message = "The console reads only the images under the inference image prefixes."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.function.statement : !contains(s.resources, "*")])
    error_message = "No statement of the console's policy may name the resource *."
  }
}

run "a_lease_longer_than_sqs_allows_is_refused" {
  command = plan

  variables {
    review_lease_seconds = 50000
  }

  expect_failures = [var.review_lease_seconds]
}

run "a_short_password_policy_is_refused" {
  command = plan

  variables {
    password_minimum_length = 6
  }

  expect_failures = [var.password_minimum_length]
}
