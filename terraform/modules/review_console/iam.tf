# What the review_console function may do, each scoped to the resource it serves. Cognito's GetUser needs no
# permission: it is authorized by the access token alone and Cognito evaluates no IAM policy for it
# (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetUser.html).

data "aws_iam_policy_document" "function" {
  statement {
    sid    = "LeaseAndDeleteReviewMessages"
    effect = "Allow"
    # The lease is ReceiveMessage's own VisibilityTimeout: no ChangeMessageVisibility needed.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [var.review_queue_arn]
  }

  statement {
    sid       = "LeasesAndDecisionClaims"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.reviews.arn]
  }

  statement {
    sid       = "PublishReviewerDecisions"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [var.decision_bus_arn]
  }

  statement {
    sid       = "ShowQueuedImages"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = local.image_object_arns
  }

  statement {
    sid     = "StoreReviewRecordsAndGroundTruth"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${var.data_bucket_arn}/${local.records_prefix}/*",
      "arn:aws:s3:::${local.ground_truth_bucket}/${local.ground_truth_prefix}/*",
    ]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseTheStackKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}
