"""Cross-checks between the monitoring module, the code that emits metrics, and the runbook.

The dashboard and the alarms name metrics as strings; nothing else fails when a function renames one. These
tests read the Terraform files and the functions' code as they are now, so a rename breaks here first.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from monitoring.record_preprocessor import FEATURE_TYPES
from tests.conftest import FUNCTIONS_DIR, REPO_ROOT

MODULE_DIR = REPO_ROOT / "terraform" / "modules" / "monitoring"
TEMPLATE = MODULE_DIR / "dashboard.json.tftpl"
MAIN_TF = MODULE_DIR / "main.tf"
VARIABLES_TF = MODULE_DIR / "variables.tf"
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"

# Metrics AWS publishes by itself, per namespace (what the dashboard and alarms may use without our code).
AWS_METRICS = {
    "AWS/States": {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    },
    "AWS/SageMaker": {
        "Invocations",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
    },
    "AWS/Lambda": {
        "Errors",
        "Throttles",
        "Duration",
        "Invocations",
        "ConcurrentExecutions",
        # Function URL metrics (https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html).
        "UrlRequestCount",
        "Url4xxCount",
        "Url5xxCount",
    },
}
# Model Monitor publishes one metric per feature, named with these prefixes.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_MONITOR_PREFIXES = ("feature_baseline_drift_", "feature_data_", "feature_non_null_")
# Template/HCL names that stand for a function's "service" dimension -> the function folder that emits.
GUARD_SERVICE_NAMES = {"guard_service": "retrain_guard", "check_service": "scheduled_check"}

METRIC_ARRAY = re.compile(
    r'\[\s*(?:"(?P<literal>[^"]+)"|(?P<identifier>[A-Za-z_]\w*))\s*,\s*"(?P<metric>[^"]+)"(?P<rest>[^\]]*)\]'
)


def emitted_metrics() -> dict[str, set[str]]:
    """Metric name -> function folders whose code emits it (metrics.add_metric / single_metric name=...)."""
    found: dict[str, set[str]] = {}
    for path in sorted(FUNCTIONS_DIR.glob("*/*.py")):
        function = path.parent.name
        tree = ast.parse(path.read_text(), filename=str(path))
        # name = "A" if ... else "B"; metrics.add_metric(name=name): follow simple variables to their strings.
        assigned: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee not in {"add_metric", "single_metric"}:
                continue
            name_arg = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
            sources = [name_arg] if name_arg is not None else []
            if isinstance(name_arg, ast.Name):
                sources += assigned.get(name_arg.id, [])
            for source in sources:
                for constant in ast.walk(source):
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                        found.setdefault(constant.value, set()).add(function)
    # The inference state machine publishes one metric itself (aws-sdk:cloudwatch:putMetricData tasks).
    states = json.loads((REPO_ROOT / "inference.asl.json").read_text())["States"]
    for state in states.values():
        if state.get("Resource") == "arn:aws:states:::aws-sdk:cloudwatch:putMetricData":
            for datum in state["Parameters"]["MetricData"]:
                found.setdefault(datum["MetricName"], set()).add("inference_workflow")
    return found


def dashboard_metrics() -> list[tuple[str | None, str, str]]:
    """(literal namespace or None for our own, metric name, emitting function folder or "") per metric array."""
    text = TEMPLATE.read_text()
    metrics = []
    for match in METRIC_ARRAY.finditer(text):
        rest = match["rest"]
        service = re.search(r"services\.(\w+)", rest)
        emitter = service.group(1) if service else next((f for n, f in GUARD_SERVICE_NAMES.items() if n in rest), "")
        metrics.append((match["literal"], match["metric"], emitter))
    return metrics


def alarm_blocks() -> dict[str, str]:
    blocks = {}
    for chunk in MAIN_TF.read_text().split('\nresource "')[1:]:
        kind, name = re.match(r'(\w+)" "(\w+)"', chunk).groups()
        if kind == "aws_cloudwatch_metric_alarm":
            blocks[name] = chunk
    return blocks


def alarm_metrics() -> list[tuple[str | None, str, str]]:
    """(namespace literal or None for var.metrics_namespace, metric name, emitter) of every alarm metric."""
    metrics = []
    for block in alarm_blocks().values():
        for namespace, body in re.findall(r'namespace\s*=\s*("[^"]+"|var\.\w+)(.*?)(?=namespace\s*=|\Z)', block, re.S):
            metric = re.search(r'metric_name\s*=\s*"([^"]+)"', body)
            assert metric, f"alarm metric without metric_name near {namespace}"
            service = re.search(r'metric_services\["(\w+)"\]', body)
            literal = namespace.strip('"') if namespace.startswith('"') else None
            metrics.append((literal, metric.group(1), service.group(1) if service else ""))
    return metrics


def check_metric(namespace: str | None, metric: str, emitter: str, emitted: dict[str, set[str]]) -> str | None:
    """Why this metric would stay empty, or None when something publishes it."""
    if namespace is None:
        if metric not in emitted:
            return f"{metric}: no code under functions/ emits it (metrics.add_metric(name=...))"
        if emitter and emitter not in emitted[metric]:
            return f"{metric}: read with service={emitter}, but emitted by {sorted(emitted[metric])}"
        return None
    if namespace == MODEL_MONITOR_NAMESPACE:
        prefix = next((p for p in MODEL_MONITOR_PREFIXES if metric.startswith(p)), None)
        if prefix is None:
            return f"{metric}: Model Monitor publishes no such metric"
        feature = metric[len(prefix) :]
        if not feature.startswith("${") and feature not in FEATURE_TYPES:
            return f"{metric}: {feature} is not a record_preprocessor feature"
        return None
    if metric not in AWS_METRICS.get(namespace, set()):
        return f"{namespace} {metric}: not a metric AWS publishes"
    return None


def test_every_dashboard_metric_is_published() -> None:
    emitted = emitted_metrics()
    metrics = dashboard_metrics()
    assert len(metrics) > 30, "the metric arrays of dashboard.json.tftpl were not found"
    problems = [p for m in metrics if (p := check_metric(*m, emitted))]
    assert not problems, "dashboard.json.tftpl shows metrics nothing publishes:\n" + "\n".join(problems)


def test_every_alarm_metric_is_published() -> None:
    emitted = emitted_metrics()
    metrics = alarm_metrics()
    assert len(metrics) >= 8
    problems = [p for m in metrics if (p := check_metric(*m, emitted))]
    assert not problems, "main.tf alarms on metrics nothing publishes:\n" + "\n".join(problems)


def test_the_check_catches_a_metric_nobody_emits() -> None:
    emitted = emitted_metrics()
    assert check_metric(None, "RouteNearby", "filter_inferences", emitted) is not None
    assert check_metric("AWS/SageMaker", "InstanceCount", "", emitted) is not None
    assert check_metric(MODEL_MONITOR_NAMESPACE, "feature_baseline_drift_hue", "", emitted) is not None


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    text = RUNBOOK.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {github_anchor(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize("alarm", sorted(alarm_blocks()))
def test_alarm_description_links_to_its_runbook_section(alarm: str) -> None:
    block = alarm_blocks()[alarm]
    description = re.search(r'alarm_description\s*=\s*"([^"\n]*)"', block)
    assert description, f"alarm {alarm} has no alarm_description"
    link = re.search(r"Runbook: \$\{var\.runbook_url\}#([\w-]+)\"?$", description.group(1))
    assert link, f"alarm {alarm}: description must end with 'Runbook: ${{var.runbook_url}}#<section>'"
    sections = runbook_sections()
    assert link.group(1) in sections, f"alarm {alarm} links to #{link.group(1)}, not a docs/runbook.md section"


def test_each_runbook_section_says_what_how_and_what_to_do() -> None:
    sections = runbook_sections()
    linked = {
        re.search(r"#([\w-]+)\"", re.search(r'alarm_description\s*=\s*"[^\n]*', b).group(0)).group(1)
        for b in alarm_blocks().values()
    }
    assert linked == set(sections), "every runbook section belongs to an alarm and every alarm has one"
    for anchor, body in sections.items():
        for part in ("**What it means.**", "**Confirm.**", "**What to do.**"):
            assert part in body, f"runbook section #{anchor} lacks {part}"
        assert "aws " in body, f"runbook section #{anchor} gives no AWS CLI command to confirm"


def variable_default(name: str) -> list[str]:
    block = re.search(rf'variable "{name}" \{{(.*?)\n\}}', VARIABLES_TF.read_text(), re.S).group(1)
    default = re.search(r"default\s*=\s*\[(.*?)\]", block, re.S).group(1)
    return re.findall(r'"([^"]+)"', default)


@pytest.mark.parametrize("variable", ["drift_alarm_features", "dashboard_drift_features", "retrain_ignore_features"])
def test_terraform_feature_lists_name_preprocessor_features(variable: str) -> None:
    unknown = set(variable_default(variable)) - set(FEATURE_TYPES)
    assert not unknown, f"{variable} names features record_preprocessor.py does not produce: {sorted(unknown)}"


def test_guard_ignores_the_same_features_by_default_as_terraform() -> None:
    source = (FUNCTIONS_DIR / "retrain_guard" / "app.py").read_text()
    default = re.search(r'DEFAULT_IGNORED_FEATURES = "([^"]+)"', source).group(1)
    assert default.split(",") == variable_default("retrain_ignore_features")


def test_preprocessor_path_terraform_uploads_exists() -> None:
    relative = re.search(r'"\$\{path\.module\}/([^"]+record_preprocessor\.py)"', MAIN_TF.read_text()).group(1)
    assert (MODULE_DIR / relative).resolve() == (REPO_ROOT / "monitoring" / "record_preprocessor.py")
    assert Path(MODULE_DIR / relative).is_file()
