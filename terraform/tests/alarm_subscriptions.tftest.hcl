# alarm_subscriptions: the on-call alarms reach the people and paging tools named, and bad entries are refused at
# plan time, with a mocked AWS provider (no AWS calls).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }

  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:mock-topic" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock" }
  }

  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:mock" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mock" }
  }

  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = { registry_path = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest" }
  }
}

variables {
  lambda_artifacts_dir = "tests/fixtures"
  # `true scripts/function_url_permission ...`: the review console\'s apply-time AWS call does nothing here.
  function_url_permission_python = "true"
}

run "subscribes_each_address_and_endpoint_to_the_alarm_topic" {
  variables {
    alarm_subscriptions = [
      { protocol = "email", endpoint = "oncall@example.com" },
      { protocol = "https", endpoint = "https://events.pagerduty.example/integration/abc123/enqueue" },
    ]
  }

  assert {
    condition     = length(output.alarm_subscriptions) == 2
    error_message = "Each entry of alarm_subscriptions must become one subscription."
  }

  assert {
    condition = (
      output.alarm_subscriptions["email:oncall@example.com"].protocol == "email" &&
      output.alarm_subscriptions["email:oncall@example.com"].endpoint == "oncall@example.com" &&
      output.alarm_subscriptions["https:https://events.pagerduty.example/integration/abc123/enqueue"].protocol == "https" &&
      alltrue([for s in values(output.alarm_subscriptions) : s.topic_arn == output.alarm_topic_arn])
    )
    error_message = "The subscriptions must be to the alarm topic every alarm notifies, with the protocol and endpoint given; got ${jsonencode(output.alarm_subscriptions)}."
  }
}

run "nobody_is_subscribed_unless_asked" {
  assert {
    condition     = length(output.alarm_subscriptions) == 0
    error_message = "With no alarm_subscriptions there must be no subscription."
  }
}

run "refuses_a_protocol_other_than_email_or_https" {
  command = plan

  variables {
    alarm_subscriptions = [{ protocol = "sms", endpoint = "+15555550100" }]
  }

  expect_failures = [var.alarm_subscriptions]
}

run "refuses_an_email_subscription_without_an_address" {
  command = plan

  variables {
    alarm_subscriptions = [{ protocol = "email", endpoint = "oncall" }]
  }

  expect_failures = [var.alarm_subscriptions]
}

run "refuses_a_plain_http_endpoint" {
  command = plan

  variables {
    alarm_subscriptions = [{ protocol = "https", endpoint = "http://pager.example/hook" }]
  }

  expect_failures = [var.alarm_subscriptions]
}

run "refuses_the_same_subscription_twice" {
  command = plan

  variables {
    alarm_subscriptions = [
      { protocol = "email", endpoint = "oncall@example.com" },
      { protocol = "email", endpoint = "oncall@example.com" },
    ]
  }

  expect_failures = [var.alarm_subscriptions]
}
