"""The monitoring role may publish Model Monitor's metrics where AWS says the analyzer publishes them, and the
embedded analyzer publishes to one of those. A namespace the role's cloudwatch:namespace condition does not admit
makes the analyzer's PutMetricData fail with AccessDenied on AWS, and the drift alarm goes without data."""

from __future__ import annotations

import re
from typing import Any

from monitoring import check
from tests.conftest import REPO_ROOT

MONITORING_IAM_TF = REPO_ROOT / "terraform" / "modules" / "monitoring" / "iam.tf"

# Where AWS writes the namespace of the data-quality metrics of a real-time endpoint (it spells it three ways).
DOCUMENTED_REAL_TIME_NAMESPACES = {
    # SageMaker Python SDK, sagemaker/model_monitor/dashboards.py (AutomaticDataQualityDashboard), dimensions
    # Endpoint and MonitoringSchedule; the same scheme as the model-quality page's aws/sagemaker/Endpoints/model-metrics
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-cw.html).
    "aws/sagemaker/Endpoints/data-metrics",
    # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html (built-in container)
    "/aws/sagemaker/Endpoints/data-metric",
    # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html (own containers' default)
    "/aws/sagemaker/Endpoint/data-metrics",
}


def admitted_namespaces() -> list[str]:
    """The values of local.model_monitor_metric_namespaces in the monitoring module's iam.tf."""
    text = MONITORING_IAM_TF.read_text()
    block = re.search(r"model_monitor_metric_namespaces\s*=\s*\[(?P<values>[^\]]*)\]", text)
    assert block, f"{MONITORING_IAM_TF} defines no local model_monitor_metric_namespaces"
    assert "values   = local.model_monitor_metric_namespaces" in text, "the PutMetricData condition must use the local"
    return re.findall(r'"([^"]+)"', block.group("values"))


class _RecordingCloudWatch:
    def __init__(self) -> None:
        self.namespaces: list[str] = []

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:
        self.namespaces.append(Namespace)


def test_the_monitoring_role_admits_exactly_the_documented_real_time_namespaces() -> None:
    admitted = admitted_namespaces()
    assert len(admitted) == len(set(admitted))
    assert set(admitted) == DOCUMENTED_REAL_TIME_NAMESPACES


def test_the_embedded_analyzer_publishes_to_a_documented_namespace_the_role_admits() -> None:
    statistics, constraints = {"features": []}, {"features": [], "monitoring_config": {}}
    rows = [{"brightness": 0.4}, {"brightness": 0.6}]
    metric_data = check.cloudwatch_metric_data(statistics, constraints, rows, "cv-endpoint", "cv-data-quality")
    assert metric_data, "the analyzer must have something to publish for this test to mean anything"
    cloudwatch = _RecordingCloudWatch()

    check.publish_metrics(cloudwatch, metric_data)

    assert cloudwatch.namespaces
    assert set(cloudwatch.namespaces) == {check.METRICS_NAMESPACE}
    assert check.METRICS_NAMESPACE in DOCUMENTED_REAL_TIME_NAMESPACES
    assert check.METRICS_NAMESPACE in admitted_namespaces()
    # The dashboard and the drift alarm read the analyzer's namespace: it is the one listed first.
    assert admitted_namespaces()[0] == check.METRICS_NAMESPACE
