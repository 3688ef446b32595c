"""The constraint check both engines run: captured feature rows against the baseline, as Model Monitor documents it.

The checks and their thresholds are the ones AWS documents for the prebuilt analyzer, nothing of this project's
own ("Schema for Violations", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-violations.html,
and the monitoring_config options of "Schema for Constraints",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html):

- data_type_check: more than `datatype_check_threshold` of a feature's values are not of its baseline type;
- completeness_check: a feature's share of non-null values is below the baseline constraint's `completeness`;
- baseline_drift_check: the distance between the baseline's and the batch's distributions exceeds
  `comparison_threshold` (numbers) or `categorical_comparison_threshold` (strings; default: comparison_threshold).
  The distance is "the maximum absolute difference between the cumulative distribution functions of two
  distributions" (linf_simple). With `comparison_method` "Robust" it is linf_robust, which the page describes as
  based on linf_simple, "used when there are not enough samples", with a formula "based on the Two-sample
  Kolmogorov-Smirnov test". The page gives no formula: here linf_robust = max(0, linf_simple - c * sqrt((n + m) /
  (n * m))), the simple distance less the two-sample KS critical value for baseline size n and batch size m, with
  c = 1.8 (significance about 0.003; the level is not documented either). Categorical drift is the L-infinity
  distance of the value shares ("LInfinity", the default `categorical_drift_method`), corrected the same way;
  "ChiSquared" is refused by name (not emulated);
- missing_column_check / extra_column_check: a baseline feature absent from the batch / a feature the baseline
  does not have;
- categorical_values_check: more than `domain_content_threshold` of a string feature's values are outside the
  baseline constraint's `string_constraints.domains`.

`evaluate_constraints = "Disabled"` turns the checks off, `perform_comparison = "Disabled"` the drift check.
The metrics are Model Monitor's CloudWatch contract for real-time endpoints
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html): namespace
`aws/sagemaker/Endpoints/data-metrics`, dimensions Endpoint and MonitoringSchedule, `feature_baseline_drift_<name>`
(the distance), `feature_data_<name>` and `feature_non_null_<name>`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from monitoring.baseline import Row, feature_names, sketch_items

METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
DATA_METRIC_PREFIX = "feature_data_"
NON_NULL_METRIC_PREFIX = "feature_non_null_"
CHECK_TYPES = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
)
# The two-sample KS critical value's c(alpha) for linf_robust; c = sqrt(-ln(alpha / 2) / 2) gives alpha ~ 0.003.
ROBUST_KS_COEFFICIENT = 1.8
# Completeness is compared with a little slack for the float the baseline stored.
EPSILON = 1e-9


class UnsupportedConstraint(Exception):
    """constraints.json asks for a check this code does not emulate (named, rather than silently skipped)."""


def _violation(feature: str, check_type: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check_type, "description": description}


def _present(rows: Sequence[Row], name: str) -> list[Any]:
    return [row.get(name) for row in rows if row.get(name) is not None]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_matches(expected: str, value: Any) -> bool:
    if expected == "Integral":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "Fractional":
        return _is_number(value)
    if expected == "String":
        return isinstance(value, str)
    return True


def linf_simple(baseline: Sequence[tuple[float, int]], batch: Sequence[float]) -> float:
    """Maximum absolute difference between the baseline sketch's CDF and the batch's empirical CDF."""
    base_total = sum(w for _, w in baseline)
    batch_sorted = sorted(batch)
    points = sorted({v for v, _ in baseline} | set(batch_sorted))
    distance, i, j, base_cum = 0.0, 0, 0, 0
    for x in points:
        while i < len(baseline) and baseline[i][0] <= x:
            base_cum += baseline[i][1]
            i += 1
        while j < len(batch_sorted) and batch_sorted[j] <= x:
            j += 1
        distance = max(distance, abs(base_cum / base_total - j / len(batch_sorted)))
    return distance


def robust(distance: float, n: int, m: int) -> float:
    """linf_robust: the simple distance less the two-sample KS critical value for sizes n and m (at least 0)."""
    return max(0.0, distance - ROBUST_KS_COEFFICIENT * math.sqrt((n + m) / (n * m)))


def categorical_distance(buckets: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> tuple[float, str]:
    """(L-infinity distance of the value shares, the value where it is largest)."""
    base = {b["value"]: b["count"] for b in buckets}
    n, m = sum(base.values()), len(values)
    batch = Counter(str(v) for v in values)
    worst, worst_value = 0.0, ""
    for value in sorted(set(base) | set(batch)):
        gap = abs(base.get(value, 0) / n - batch.get(value, 0) / m)
        if gap > worst:
            worst, worst_value = gap, value
    return worst, worst_value


def _distribution_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    distribution = config.get("distribution_constraints") or {}
    method = distribution.get("categorical_drift_method", "LInfinity")
    if method != "LInfinity":
        raise UnsupportedConstraint(f"categorical_drift_method {method!r} is not emulated (only LInfinity)")
    if distribution.get("comparison_method", "Robust") not in ("Robust", "Simple"):
        raise UnsupportedConstraint(f"comparison_method {distribution['comparison_method']!r} is not Robust or Simple")
    return distribution


def _drift(base: Mapping[str, Any], kind: str, values: Sequence[Any], distribution: Mapping[str, Any]) -> str | None:
    """Why the batch's distribution drifted from the baseline feature's, or None."""
    is_robust = distribution.get("comparison_method", "Robust") == "Robust"
    threshold = float(distribution.get("comparison_threshold", 0.1))
    if kind == "String" and "string_statistics" in base:
        buckets = base["string_statistics"]["distribution"]["categorical"]["buckets"]
        if not buckets:
            return None
        threshold = float(distribution.get("categorical_comparison_threshold", threshold))
        simple, where = categorical_distance(buckets, values)
        detail = f" (largest at {where!r})"
        n = sum(b["count"] for b in buckets)
    elif "numerical_statistics" in base:
        sketch = base["numerical_statistics"].get("distribution", {}).get("kll", {}).get("sketch") or {}
        if not sketch.get("data") or not all(_is_number(v) for v in values):
            return None
        items = sketch_items(sketch)
        simple, detail, n = linf_simple(items, [float(v) for v in values]), "", sum(w for _, w in items)
    else:
        return None
    distance = robust(simple, n, len(values)) if is_robust else simple
    if distance > threshold:
        name = "linf_robust" if is_robust else "linf_simple"
        return (
            f"baseline drift distance {name} {distance:.4f} exceeds the threshold {threshold} "
            f"(linf_simple {simple:.4f}, baseline {n} values, batch {len(values)}){detail}"
        )
    return None


def check(statistics: Mapping[str, Any], constraints: Mapping[str, Any], rows: Sequence[Row]) -> list[dict[str, str]]:
    """Evaluate a batch of feature rows against the baseline; returns constraint_violations.json entries."""
    config = constraints.get("monitoring_config") or {}
    if config.get("evaluate_constraints", "Enabled") != "Enabled" or not rows:
        return []
    distribution = _distribution_config(config)
    base_stats = {f["name"]: f for f in statistics.get("features", [])}
    violations: list[dict[str, str]] = []
    batch_names = {name for row in rows for name in row}
    for extra in sorted(batch_names - {c["name"] for c in constraints["features"]}):
        violations.append(_violation(extra, "extra_column_check", f"feature {extra} is not in the baseline"))

    for constraint in constraints["features"]:
        name, expected = constraint["name"], constraint["inferred_type"]
        if name not in batch_names:
            violations.append(_violation(name, "missing_column_check", f"feature {name} is absent from the batch"))
            continue
        values = _present(rows, name)
        completeness = len(values) / len(rows)
        if completeness < float(constraint.get("completeness", 0.0)) - EPSILON:
            violations.append(
                _violation(
                    name,
                    "completeness_check",
                    f"completeness {completeness:.4f} is below the baseline's {float(constraint['completeness']):.4f}",
                )
            )
        if not values:
            continue
        mismatched = sum(not _type_matches(expected, v) for v in values) / len(values)
        if mismatched > float(config.get("datatype_check_threshold", 0.1)):
            violations.append(_violation(name, "data_type_check", f"{mismatched:.2%} of values are not {expected}"))
            continue
        domains = (constraint.get("string_constraints") or {}).get("domains")
        if domains is not None:
            unknown = sum(str(v) not in domains for v in values) / len(values)
            if unknown > float(config.get("domain_content_threshold", 0.1)):
                seen = sorted({str(v) for v in values} - set(domains))
                violations.append(
                    _violation(name, "categorical_values_check", f"{unknown:.2%} of values outside {domains}: {seen}")
                )
        base = base_stats.get(name)
        if base is None or distribution.get("perform_comparison", "Enabled") != "Enabled":
            continue
        reason = _drift(base, expected, values, distribution)
        if reason:
            violations.append(_violation(name, "baseline_drift_check", reason))
    return violations


def drift_distances(statistics: Mapping[str, Any], constraints: Mapping[str, Any], rows: Sequence[Row]) -> dict:
    """Per-feature distance as the drift check measures it: what is published as feature_baseline_drift_<name>."""
    distribution = _distribution_config(constraints.get("monitoring_config") or {})
    is_robust = distribution.get("comparison_method", "Robust") == "Robust"
    distances: dict[str, float] = {}
    for feature in statistics.get("features", []):
        values = _present(rows, feature["name"])
        if not values:
            continue
        if "numerical_statistics" in feature:
            sketch = feature["numerical_statistics"].get("distribution", {}).get("kll", {}).get("sketch") or {}
            if not sketch.get("data") or not all(_is_number(v) for v in values):
                continue
            items = sketch_items(sketch)
            simple, n = linf_simple(items, [float(v) for v in values]), sum(w for _, w in items)
        elif "string_statistics" in feature:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            if not buckets:
                continue
            simple, n = categorical_distance(buckets, values)[0], sum(b["count"] for b in buckets)
        else:
            continue
        distances[feature["name"]] = robust(simple, n, len(values)) if is_robust else simple
    return distances


def violations_document(violations: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """constraint_violations.json."""
    return {"violations": list(violations)}


def execution_status(violations: Sequence[Mapping[str, str]]) -> str:
    """MonitoringExecutionStatus of a run that completed (API_MonitoringExecutionSummary.html)."""
    return "CompletedWithViolations" if violations else "Completed"


def exit_message(violations: Sequence[Mapping[str, str]]) -> str:
    """The processing job ExitMessage Model Monitor reports (the API reference documents it only as metadata)."""
    if violations:
        return f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    return "Completed: Job completed successfully with no violations."


# -------------------------------------------------------------------------------------- CloudWatch metrics


def drift_metric_name(feature: str) -> str:
    return f"{DRIFT_METRIC_PREFIX}{feature}"


def cloudwatch_metric_data(
    statistics: Mapping[str, Any],
    constraints: Mapping[str, Any],
    rows: Sequence[Row],
    endpoint_name: str,
    schedule_name: str,
    timestamp: datetime | None = None,
) -> list[dict[str, Any]]:
    """PutMetricData entries named as Model Monitor names them (namespace METRICS_NAMESPACE)."""
    timestamp = timestamp or datetime.now(UTC)
    dimensions = [
        {"Name": "Endpoint", "Value": endpoint_name},
        {"Name": "MonitoringSchedule", "Value": schedule_name},
    ]
    data: list[dict[str, Any]] = []
    for name, distance in drift_distances(statistics, constraints, rows).items():
        data.append(
            {"MetricName": drift_metric_name(name), "Dimensions": dimensions, "Timestamp": timestamp, "Value": distance}
        )
    for name in feature_names(rows):
        values = _present(rows, name)
        data.append(
            {
                "MetricName": f"{NON_NULL_METRIC_PREFIX}{name}",
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": len(values) / len(rows),
            }
        )
        numbers = [float(v) for v in values if _is_number(v)]
        if numbers:
            data.append(
                {
                    "MetricName": f"{DATA_METRIC_PREFIX}{name}",
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "StatisticValues": {
                        "SampleCount": float(len(numbers)),
                        "Sum": math.fsum(numbers),
                        "Minimum": min(numbers),
                        "Maximum": max(numbers),
                    },
                }
            )
    return data


def publish_metrics(cloudwatch: Any, metric_data: Sequence[Mapping[str, Any]]) -> None:
    """Send metric data with a CloudWatch client, in API-sized chunks."""
    for start in range(0, len(metric_data), 20):
        cloudwatch.put_metric_data(Namespace=METRICS_NAMESPACE, MetricData=list(metric_data[start : start + 20]))
