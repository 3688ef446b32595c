"""Model Monitor baseline (statistics.json, constraints.json) and the local constraint check.

The baseline is computed from feature rows produced by the same `record_preprocessor.preprocess_handler` the
analyzer runs on captured traffic, so baseline and monitored data cannot disagree about what a feature means.
Files follow the documented Model Monitor formats (version 0.0), so the AWS analyzer can use them as
`BaselineConfig`; `check` evaluates them locally and returns `constraint_violations.json` entries.

Usage:
    python -m training.monitoring.baseline --images data/test --predictions preds.json --output baseline/
    python -m training.monitoring.baseline check --baseline baseline/ --capture capture.jsonl --output report/
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as stats
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.monitoring.record_preprocessor import (
    FEATURE_TYPES,
    build_capture_line,
    preprocess_capture_line,
    preprocess_capture_lines,
)

Row = Mapping[str, Any]

# Model Monitor's CloudWatch contract for real-time endpoints (what publish_cloudwatch_metrics emits).
METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
DATA_METRIC_PREFIX = "feature_data_"
NON_NULL_METRIC_PREFIX = "feature_non_null_"

# KLL sketch parameters the AWS analyzer writes; 10 buckets is its fixed materialisation.
KLL_K = 2048
KLL_C = 0.64
BUCKETS = 10
MAX_DOMAIN_VALUES = 20

MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

# Local drift bounds (on top of the distribution distance): a batch mean outside
#   baseline mean +- max(MEAN_SHIFT_SIGMAS * std_dev, MEAN_SHIFT_Z * std_dev / sqrt(n),
#                        MEAN_SHIFT_FLOOR * |mean|)
# is drift. The z term keeps small hourly batches quiet; the floor keeps constant features (32x32) from
# flagging a single odd image.
MEAN_SHIFT_SIGMAS = 0.5
MEAN_SHIFT_Z = 5.0
MEAN_SHIFT_FLOOR = 0.05
# "Robust" comparison: the distance must also be significant at this level for the sample sizes involved.
ROBUST_SIGNIFICANCE = 0.001


class BaselineError(Exception):
    """The inputs cannot produce a baseline (no images, unreadable predictions, bad files)."""


# ------------------------------------------------------------------------------------------- KLL sketch


class KllSketch:
    """Deterministic KLL quantile sketch: level h holds items of weight 2**h; exact while n <= k."""

    def __init__(self, k: int = KLL_K, c: float = KLL_C) -> None:
        self.k, self.c = k, c
        self.levels: list[list[float]] = [[]]
        self._flip = 0

    def _capacity(self, level: int) -> int:
        depth = len(self.levels) - 1 - level
        return max(2, math.ceil(self.k * self.c**depth))

    def update(self, value: float) -> None:
        self.levels[0].append(float(value))
        level = 0
        while level < len(self.levels) and len(self.levels[level]) >= self._capacity(level):
            if level + 1 == len(self.levels):
                self.levels.append([])
            items = sorted(self.levels[level])
            keep = [items.pop()] if len(items) % 2 else []
            self.levels[level + 1].extend(items[self._flip :: 2])
            self._flip ^= 1
            self.levels[level] = keep
            level += 1

    def weighted_items(self) -> list[tuple[float, int]]:
        return sorted((value, 1 << level) for level, items in enumerate(self.levels) for value in items)

    def to_json(self) -> dict[str, Any]:
        return {
            "parameters": {"c": self.c, "k": float(self.k)},
            "data": [list(items) for items in self.levels],
        }


def sketch_items(sketch: Mapping[str, Any]) -> list[tuple[float, int]]:
    """(value, weight) pairs of a statistics.json KLL sketch, sorted by value."""
    return sorted((float(value), 1 << level) for level, items in enumerate(sketch.get("data", [])) for value in items)


# ------------------------------------------------------------------------------------------- statistics


def _present(rows: Sequence[Row], name: str) -> list[Any]:
    return [row.get(name) for row in rows if row.get(name) is not None]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def infer_type(values: Sequence[Any], declared: str | None = None) -> str:
    """Model Monitor's inferred_type for the present values of one feature."""
    if not values:
        return declared or "Unknown"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Integral"
    if all(_is_number(v) for v in values):
        return "Fractional"
    return "String"


def _buckets(values: Sequence[float], low: float, high: float) -> list[dict[str, float]]:
    width = (high - low) / BUCKETS
    counts = [0] * BUCKETS
    for value in values:
        index = BUCKETS - 1 if width == 0 else min(BUCKETS - 1, int((value - low) / width))
        counts[index] += 1
    return [
        {"lower_bound": low + i * width, "upper_bound": low + (i + 1) * width, "count": counts[i]}
        for i in range(BUCKETS)
    ]


def _numerical_statistics(values: Sequence[float], missing: int) -> dict[str, Any]:
    result: dict[str, Any] = {"common": {"num_present": len(values), "num_missing": missing}}
    if not values:
        return result
    sketch = KllSketch()
    for value in values:
        sketch.update(value)
    low, high = float(min(values)), float(max(values))
    result.update(
        {
            "mean": stats.fmean(values),
            "sum": float(math.fsum(values)),
            "std_dev": stats.pstdev(values),
            "min": low,
            "max": high,
            "distribution": {"kll": {"buckets": _buckets(values, low, high), "sketch": sketch.to_json()}},
        }
    )
    return result


def _string_statistics(values: Sequence[Any], missing: int) -> dict[str, Any]:
    counts = Counter(str(v) for v in values)
    return {
        "common": {"num_present": len(values), "num_missing": missing},
        "distinct_count": len(counts),
        "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in sorted(counts.items())]}},
    }


def feature_names(rows: Sequence[Row]) -> list[str]:
    """Known features first (in their documented order), then anything else the rows carry."""
    seen = {name for row in rows for name in row}
    return [n for n in FEATURE_TYPES if n in seen] + sorted(seen - FEATURE_TYPES.keys())


def compute_statistics(rows: Sequence[Row]) -> dict[str, Any]:
    """statistics.json for a set of feature rows (baseline or one monitoring batch)."""
    features = []
    for name in feature_names(rows):
        values = _present(rows, name)
        missing = len(rows) - len(values)
        kind = infer_type(values, FEATURE_TYPES.get(name))
        feature: dict[str, Any] = {"name": name, "inferred_type": kind}
        if kind == "String":
            feature["string_statistics"] = _string_statistics(values, missing)
        else:
            feature["numerical_statistics"] = _numerical_statistics([float(v) for v in values], missing)
        features.append(feature)
    return {"version": 0.0, "dataset": {"item_count": len(rows)}, "features": features}


def suggest_constraints(statistics: Mapping[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from baseline statistics, as the analyzer's baselining job would."""
    features = []
    for feature in statistics["features"]:
        kind = feature["inferred_type"]
        block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = block.get("common", {})
        total = common.get("num_present", 0) + common.get("num_missing", 0)
        constraint: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": kind,
            "completeness": common.get("num_present", 0) / total if total else 0.0,
        }
        if kind == "String":
            values = [b["value"] for b in block["distribution"]["categorical"]["buckets"]]
            if len(values) <= MAX_DOMAIN_VALUES:
                constraint["string_constraints"] = {"domains": values}
        elif "min" in block:
            constraint["num_constraints"] = {"is_non_negative": block["min"] >= 0}
        features.append(constraint)
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": json.loads(json.dumps(MONITORING_CONFIG)),
    }


def build_baseline(rows: Sequence[Row]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics, constraints) for baseline rows; the pipeline's baseline step calls this."""
    if not rows:
        raise BaselineError("no rows to build a baseline from")
    statistics = compute_statistics(rows)
    return statistics, suggest_constraints(statistics)


def rows_from_images(
    images: Iterable[tuple[str, bytes]], predictions: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Feature rows for (key, image bytes) pairs, via capture lines as the endpoint would write them; `predictions`
    maps a key to the endpoint's answer (its response object, or a bare probability list)."""
    rows = []
    for key, data in images:
        probabilities = _lookup(predictions or {}, key)
        rows.append(preprocess_capture_line(build_capture_line(data, probabilities, event_id=key)))
    return rows


def baseline_from_images(
    images: Iterable[tuple[str, bytes]], predictions: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    return build_baseline(rows_from_images(images, predictions))


# ------------------------------------------------------------------------------------------ the check


def _violation(feature: str, check_type: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check_type, "description": description}


def _ks_distance(baseline: Sequence[tuple[float, int]], batch: Sequence[float]) -> float:
    """Sup-distance between the baseline sketch's CDF and the batch's empirical CDF."""
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


def _ks_critical(n: int, m: int, alpha: float) -> float:
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def _type_matches(expected: str, value: Any) -> bool:
    if expected == "Integral":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "Fractional":
        return _is_number(value)
    if expected == "String":
        return isinstance(value, str)
    return True


def _numeric_drift(
    name: str, base: Mapping[str, Any], values: Sequence[float], config: Mapping[str, Any]
) -> str | None:
    """Why the batch's numbers drifted from the baseline (distribution distance or mean bound), or None."""
    reasons = []
    distribution = config.get("distribution_constraints", {})
    sketch = base.get("distribution", {}).get("kll", {}).get("sketch")
    if distribution.get("perform_comparison", "Enabled") == "Enabled" and sketch and sketch.get("data"):
        items = sketch_items(sketch)
        distance = _ks_distance(items, values)
        threshold = float(distribution.get("comparison_threshold", 0.1))
        needed = threshold
        if distribution.get("comparison_method", "Robust") == "Robust":
            needed = max(threshold, _ks_critical(base["common"]["num_present"], len(values), ROBUST_SIGNIFICANCE))
        if distance > needed:
            reasons.append(f"distribution distance {distance:.4f} exceeds {needed:.4f} (threshold {threshold})")
    mean, std = base.get("mean"), base.get("std_dev")
    if mean is not None and std is not None:
        batch_mean = stats.fmean(values)
        allowed = max(
            MEAN_SHIFT_SIGMAS * std, MEAN_SHIFT_Z * std / math.sqrt(len(values)), MEAN_SHIFT_FLOOR * abs(mean)
        )
        if abs(batch_mean - mean) > allowed + 1e-9:
            reasons.append(
                f"batch mean {batch_mean:.4f} outside baseline {mean:.4f} +- {allowed:.4f} (std_dev {std:.4f})"
            )
    return "; ".join(reasons) or None


def _categorical_drift(base: Mapping[str, Any], values: Sequence[Any], config: Mapping[str, Any]) -> str | None:
    distribution = config.get("distribution_constraints", {})
    if distribution.get("perform_comparison", "Enabled") != "Enabled":
        return None
    base_counts = {b["value"]: b["count"] for b in base["distribution"]["categorical"]["buckets"]}
    n, m = sum(base_counts.values()), len(values)
    batch_counts = Counter(str(v) for v in values)
    worst, worst_value = 0.0, ""
    for value in set(base_counts) | set(batch_counts):
        gap = abs(base_counts.get(value, 0) / n - batch_counts.get(value, 0) / m)
        if gap > worst:
            worst, worst_value = gap, value
    threshold = float(distribution.get("categorical_comparison_threshold", 0.1))
    needed = threshold
    if distribution.get("comparison_method", "Robust") == "Robust":
        pooled = (base_counts.get(worst_value, 0) + batch_counts.get(worst_value, 0)) / (n + m)
        z = stats.NormalDist().inv_cdf(1 - ROBUST_SIGNIFICANCE / 2)
        needed = max(threshold, z * math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n + 1 / m)))
    if worst > needed:
        return f"share of {worst_value!r} moved by {worst:.4f} (LInfinity), more than {needed:.4f}"
    return None


def check(statistics: Mapping[str, Any], constraints: Mapping[str, Any], rows: Sequence[Row]) -> list[dict[str, str]]:
    """Evaluate a batch of feature rows against the baseline; returns constraint_violations.json entries."""
    config = constraints.get("monitoring_config", {})
    if config.get("evaluate_constraints", "Enabled") != "Enabled" or not rows:
        return []
    base_stats = {f["name"]: f for f in statistics["features"]}
    violations: list[dict[str, str]] = []
    batch_names = {name for row in rows for name, value in row.items() if value is not None}
    for extra in sorted(batch_names - {c["name"] for c in constraints["features"]}):
        violations.append(_violation(extra, "extra_column_check", f"feature {extra} is not in the baseline"))

    for constraint in constraints["features"]:
        name, expected = constraint["name"], constraint["inferred_type"]
        if all(name not in row for row in rows):
            violations.append(_violation(name, "missing_column_check", f"feature {name} is absent from the batch"))
            continue
        values = _present(rows, name)
        completeness = len(values) / len(rows)
        if completeness < float(constraint.get("completeness", 0.0)) - 1e-9:
            violations.append(
                _violation(
                    name,
                    "completeness_check",
                    f"completeness {completeness:.4f} is below the baseline's {constraint['completeness']:.4f}",
                )
            )
        if not values:
            continue
        mismatched = sum(not _type_matches(expected, v) for v in values) / len(values)
        if mismatched > float(config.get("datatype_check_threshold", 0.1)):
            violations.append(_violation(name, "data_type_check", f"{mismatched:.2%} of values are not {expected}"))
            continue
        domains = constraint.get("string_constraints", {}).get("domains")
        if domains is not None:
            unknown = sum(str(v) not in domains for v in values) / len(values)
            if unknown > float(config.get("domain_content_threshold", 0.1)):
                seen = sorted({str(v) for v in values} - set(domains))
                violations.append(
                    _violation(name, "categorical_values_check", f"{unknown:.2%} of values outside {domains}: {seen}")
                )
        base = base_stats.get(name)
        if base is None:
            continue
        if expected == "String" and "string_statistics" in base:
            reason = _categorical_drift(base["string_statistics"], values, config)
        elif "numerical_statistics" in base and base["numerical_statistics"]["common"]["num_present"]:
            reason = _numeric_drift(name, base["numerical_statistics"], [float(v) for v in values], config)
        else:
            reason = None
        if reason:
            violations.append(_violation(name, "baseline_drift_check", reason))
    return violations


def drift_distances(statistics: Mapping[str, Any], rows: Sequence[Row]) -> dict[str, float]:
    """Per-feature distribution distance: what Model Monitor publishes as feature_baseline_drift_<name>."""
    distances: dict[str, float] = {}
    for feature in statistics["features"]:
        values = _present(rows, feature["name"])
        if not values:
            continue
        if "numerical_statistics" in feature:
            sketch = feature["numerical_statistics"].get("distribution", {}).get("kll", {}).get("sketch")
            if sketch and sketch.get("data") and all(_is_number(v) for v in values):
                distances[feature["name"]] = _ks_distance(sketch_items(sketch), [float(v) for v in values])
        elif "string_statistics" in feature:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            n, batch = sum(b["count"] for b in buckets), Counter(str(v) for v in values)
            base = {b["value"]: b["count"] / n for b in buckets}
            distances[feature["name"]] = max(
                abs(base.get(k, 0.0) - batch.get(k, 0) / len(values)) for k in set(base) | set(batch)
            )
    return distances


def violations_document(violations: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """constraint_violations.json."""
    return {"violations": list(violations)}


def exit_message(violations: Sequence[Mapping[str, str]]) -> str:
    """The processing job ExitMessage Model Monitor reports (the retrain rule matches its prefix)."""
    if violations:
        return f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    return "Completed: Job completed successfully with no violations."


# -------------------------------------------------------------------------------------- CloudWatch metrics


def drift_metric_name(feature: str) -> str:
    return f"{DRIFT_METRIC_PREFIX}{feature}"


def cloudwatch_metric_data(
    statistics: Mapping[str, Any],
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
    for name, distance in drift_distances(statistics, rows).items():
        data.append(
            {
                "MetricName": drift_metric_name(name),
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": distance,
            }
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


# ------------------------------------------------------------------------------------------------ files


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def write_baseline(output: Path, statistics: Mapping[str, Any], constraints: Mapping[str, Any]) -> list[Path]:
    return [
        write_json(output / "statistics.json", statistics),
        write_json(output / "constraints.json", constraints),
    ]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise BaselineError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")


def upload_baseline(
    s3: Any, bucket: str, prefix: str, statistics: Mapping[str, Any], constraints: Mapping[str, Any]
) -> list[str]:
    """Put both files at s3://bucket/prefix/{statistics,constraints}.json, where the schedule reads them.

    From a folder URI: upload_baseline(s3, *split_s3_uri("s3://bucket/monitoring/baseline"), statistics, ...).
    """
    uris = []
    for name, document in (("statistics.json", statistics), ("constraints.json", constraints)):
        key = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
        uris.append(f"s3://{bucket}/{key}")
    return uris


def _lookup(predictions: Mapping[str, Sequence[float]], key: str) -> Sequence[float] | None:
    path = Path(key)
    for candidate in (key, path.as_posix(), path.name, path.stem):
        if candidate in predictions:
            return predictions[candidate]
    return None


def load_predictions(path: Path) -> dict[str, list[float]]:
    """{image key: probabilities} from {"key": [p...]} or [{"image": key, "probabilities": [p...]}, ...]."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BaselineError(f"cannot read predictions {path}: {error}") from error
    if isinstance(document, dict):
        return {str(k): list(v) for k, v in document.items()}
    if isinstance(document, list):
        result = {}
        for item in document:
            key = next((item[k] for k in ("image", "key", "path") if k in item), None)
            if key is None or "probabilities" not in item:
                raise BaselineError(f"{path}: each item needs 'image' and 'probabilities'")
            result[str(key)] = list(item["probabilities"])
        return result
    raise BaselineError(f"{path}: expected an object or a list")


def list_images(directory: Path, list_file: Path | None = None) -> list[Path]:
    """PNG paths named by the split's .lst file(s) (last column = relative path), else every *.png."""
    lists = [list_file] if list_file else sorted(directory.glob("*.lst"))
    paths: list[Path] = []
    for lst in lists:
        for line in lst.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t") if "\t" in line else line.split()
            if not fields:
                continue
            relative = fields[-1].strip()
            for candidate in (lst.parent / relative, directory / relative, directory / Path(relative).name):
                if candidate.is_file():
                    paths.append(candidate)
                    break
            else:
                raise BaselineError(f"{lst.name} names {relative}, which is not under {directory}")
    return paths or sorted(directory.rglob("*.png"))


# -------------------------------------------------------------------------------------------------- CLI


def _suggest(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.monitoring.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of PNGs (with the split's .lst)")
    parser.add_argument("--list", type=Path, help="the .lst file to use (default: every *.lst in --images)")
    parser.add_argument("--predictions", type=Path, help="JSON: image key -> the model's probabilities")
    parser.add_argument("--output", type=Path, required=True, help="folder for statistics.json/constraints.json")
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        raise BaselineError(f"{args.images} is not a folder")
    paths = list_images(args.images, args.list)
    if not paths:
        raise BaselineError(f"no PNG images under {args.images}")
    predictions = load_predictions(args.predictions) if args.predictions else {}
    if not predictions:
        print(
            "warning: no predictions given; prediction features will be missing from the baseline",
            file=sys.stderr,
        )
    print(f"==> {len(paths)} images from {args.images}")
    images = ((p.relative_to(args.images).as_posix(), p.read_bytes()) for p in paths)
    statistics, constraints = baseline_from_images(images, predictions)
    for path in write_baseline(args.output, statistics, constraints):
        print(f"wrote {path}")
    return 0


def _check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.monitoring.baseline check",
        description="Check captured records against a baseline, as one monitoring execution would.",
    )
    parser.add_argument("--baseline", type=Path, required=True, help="folder with statistics.json/constraints.json")
    parser.add_argument("--capture", type=Path, nargs="+", required=True, help="data-capture .jsonl files")
    parser.add_argument("--output", type=Path, help="folder for statistics.json/constraint_violations.json")
    args = parser.parse_args(argv)
    try:
        statistics = json.loads((args.baseline / "statistics.json").read_text(encoding="utf-8"))
        constraints = json.loads((args.baseline / "constraints.json").read_text(encoding="utf-8"))
        rows = [row for path in args.capture for row in preprocess_capture_lines(path.read_text().splitlines())]
    except (OSError, ValueError) as error:
        raise BaselineError(f"cannot read inputs: {error}") from error
    violations = check(statistics, constraints, rows)
    if args.output:
        write_json(args.output / "statistics.json", compute_statistics(rows))
        write_json(args.output / "constraint_violations.json", violations_document(violations))
    for violation in violations:
        print(f"{violation['constraint_check_type']:<24} {violation['feature_name']:<22} {violation['description']}")
    print(exit_message(violations))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["check"]:
            return _check(argv[1:])
        return _suggest(argv)
    except BaselineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
