"""CloudWatch alarm evaluation in the embedded AWS (local_aws.cloudwatch_alarms): the alarms the stack defines,
fed with metric data, go to the state CloudWatch's "Evaluating an alarm" rules give."""

from __future__ import annotations

import pytest
from local_aws.cloudwatch_alarms import AlarmNotEvaluable, evaluate_alarms, evaluate_expression

pytestmark = pytest.mark.embedded

ENDPOINT = [{"Name": "EndpointName", "Value": "cw-endpoint"}, {"Name": "VariantName", "Value": "AllTraffic"}]


def metric(name: str, dimensions: list[dict] | None = None) -> dict:
    return {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": dimensions or ENDPOINT}


def put(aws, name: str, values: list[float], dimensions: list[dict] | None = None, unit: str = "None") -> None:
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions or ENDPOINT, "Value": value, "Unit": unit} for value in values
        ],
    )


def state(aws, name: str) -> tuple[str, str]:
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["StateValue"], alarm["StateReason"]


def error_rate_alarm(aws, name: str, dimensions: list[dict]) -> None:
    """The monitoring module's endpoint error-rate alarm: 5xx answers as a percentage of invocations."""
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        Threshold=5,
        TreatMissingData="notBreaching",
        Metrics=[
            {
                "Id": "rate",
                "Expression": "IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)",
                "ReturnData": True,
            },
            {
                "Id": "errors",
                "MetricStat": {"Metric": metric("Invocation5XXErrors", dimensions), "Period": 300, "Stat": "Sum"},
                "ReturnData": False,
            },
            {
                "Id": "invocations",
                "MetricStat": {"Metric": metric("Invocations", dimensions), "Period": 300, "Stat": "Sum"},
                "ReturnData": False,
            },
        ],
    )


def test_a_metric_math_error_rate_alarm_follows_the_share_of_5xx_answers(local_aws):
    dimensions = [{"Name": "EndpointName", "Value": "cw-rate"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    error_rate_alarm(local_aws, "cw-error-rate", dimensions)

    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-error-rate"]) == {"cw-error-rate": "OK"}

    put(local_aws, "Invocations", [1.0] * 20, dimensions)
    put(local_aws, "Invocation5XXErrors", [0.0] * 19 + [1.0], dimensions)  # 5 %: not above the threshold
    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-error-rate"])["cw-error-rate"] == "OK"

    put(local_aws, "Invocations", [1.0] * 10, dimensions)
    put(local_aws, "Invocation5XXErrors", [1.0] * 5 + [0.0] * 5, dimensions)  # 6 of 30: 20 %
    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-error-rate"])["cw-error-rate"] == "ALARM"
    value, reason = state(local_aws, "cw-error-rate")
    assert value == "ALARM"
    assert reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [20]")


def test_an_idle_endpoint_alarm_breaches_on_missing_invocations(local_aws):
    """The idle-endpoint alarm: Invocations Sum below 1 for N hours, missing data breaching (SageMaker publishes
    no Invocations datapoint for an hour without requests)."""
    dimensions = [{"Name": "EndpointName", "Value": "cw-idle"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    local_aws.client("cloudwatch").put_metric_alarm(
        AlarmName="cw-idle",
        **metric("Invocations", dimensions),
        Statistic="Sum",
        Period=3600,
        EvaluationPeriods=2,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )

    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-idle"]) == {"cw-idle": "ALARM"}

    put(local_aws, "Invocations", [1.0], dimensions)
    # Two of two hours must be idle (DatapointsToAlarm defaults to EvaluationPeriods): one request ends the alarm.
    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-idle"]) == {"cw-idle": "OK"}


def test_a_percentile_alarm_needs_its_datapoints_to_alarm(local_aws):
    dimensions = [{"Name": "EndpointName", "Value": "cw-p99"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    local_aws.client("cloudwatch").put_metric_alarm(
        AlarmName="cw-p99",
        **metric("ModelLatency", dimensions),
        ExtendedStatistic="p99",
        Period=300,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=500_000,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    put(local_aws, "ModelLatency", [100_000.0] * 99 + [900_000.0], dimensions, unit="Microseconds")

    # One period (the latest) breaches; the alarm needs two of its three.
    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-p99"]) == {"cw-p99": "OK"}


def test_an_alarm_the_evaluator_cannot_read_keeps_its_state_and_says_why(local_aws):
    local_aws.client("cloudwatch").put_metric_alarm(
        AlarmName="cw-unsupported",
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        Threshold=1,
        Metrics=[
            {"Id": "anomaly", "Expression": "ANOMALY_DETECTION_BAND(m, 2)", "ReturnData": True},
            {
                "Id": "m",
                "MetricStat": {"Metric": metric("Invocations"), "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
        ],
    )
    local_aws.client("cloudwatch").set_alarm_state(
        AlarmName="cw-unsupported", StateValue="ALARM", StateReason="set by the test"
    )

    assert evaluate_alarms(local_aws.iam.account, local_aws.region, ["cw-unsupported", "cw-nonexistent"]) == {
        "cw-unsupported": "ALARM",
        "cw-nonexistent": "MISSING",
    }
    assert state(local_aws, "cw-unsupported")[1].startswith("Not evaluated by the embedded AWS")


def test_metric_math_as_the_stacks_alarms_write_it():
    series = {"a": [1.0, None, 3.0], "b": [0.0, 2.0, None]}

    assert evaluate_expression("FILL(a, 0) + FILL(b, 0)", series) == [1.0, 2.0, 3.0]
    assert evaluate_expression("a / b", series) == [None, None, None]  # division by zero, missing operands
    assert evaluate_expression("IF(FILL(b, 0) > 0, 1, 2)", series) == [2.0, 1.0, 2.0]
    assert evaluate_expression("MAX([a, b])", series) == [1.0, 2.0, 3.0]
    with pytest.raises(AlarmNotEvaluable, match="METRICS"):
        evaluate_expression("METRICS()", series)
