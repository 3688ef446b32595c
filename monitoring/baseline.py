"""The monitoring baseline: statistics.json and constraints.json of the test images, as the model answered them.

Both engines compare captured traffic with this baseline. It is computed from feature rows produced by the
same `record_preprocessor` that reads captured traffic, from capture lines built of each test image and the
endpoint's answer to it, so baseline and monitored data cannot disagree about what a feature means. The files
follow Model Monitor's documented formats (version 0.0: "Schema for Statistics",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html, and "Schema for
Constraints", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html), so the AWS
analyzer can use them as the job definition's baseline; `monitoring.check` evaluates traffic against them.
"""

from __future__ import annotations

import json
import math
import statistics as stats
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from monitoring.record_preprocessor import (
    FEATURE_TYPES,
    answer_rows,
    build_capture_line,
    capture_records,
    record_rows,
)

Row = Mapping[str, Any]

# KLL sketch parameters the AWS analyzer writes; 10 buckets is its fixed materialisation.
KLL_K = 2048
KLL_C = 0.64
BUCKETS = 10
MAX_DOMAIN_VALUES = 20

# monitoring_config of the constraints file, with the values the constraints page gives as defaults
# (model-monitor-byoc-constraints.html, "Monitoring Constraints"). "Robust" is the comparison for batches that
# are small next to the baseline (an hour of courier photos): see monitoring.check.
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
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class BaselineError(Exception):
    """The inputs cannot produce a baseline (no images, unreadable answers, bad files)."""


class EndpointAnswerError(BaselineError):
    """The endpoint did not answer a baseline image with the response object (the model is not serving)."""


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


# ------------------------------------------------------------------------------------------------ rows


def rows_from_answers(answers: Iterable[tuple[str, bytes, Any]]) -> list[dict[str, Any]]:
    """Feature rows for (key, image bytes, the endpoint's answer) triples, via capture lines as data capture
    would write them and the record preprocessor would read them."""
    rows: list[dict[str, Any]] = []
    for key, image, answer in answers:
        line = build_capture_line(image, answer, event_id=key)
        for record in capture_records([line]):
            rows.extend(record_rows(record))
    return rows


def ask_endpoint(runtime: Any, endpoint: str, images: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, bytes, Any]]:
    """(key, image, answer) for each image sent to the endpoint as the inference workflow sends it."""
    from botocore.exceptions import BotoCoreError, ClientError

    for key, image in images:
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=image, ContentType="application/x-image", Accept="application/json"
            )
            answer = json.loads(response["Body"].read())
        except (ClientError, BotoCoreError) as error:
            raise EndpointAnswerError(f"endpoint {endpoint} failed on {key}: {error}") from None
        except ValueError as error:
            raise EndpointAnswerError(f"endpoint {endpoint} answered {key} with no JSON: {error}") from None
        if answer_rows(answer) is None:
            raise EndpointAnswerError(
                f"endpoint {endpoint} answered {key} with no class probabilities "
                '(expected {"probabilities": [p, ...], "labels": [...], "features": {...}, ...})'
            )
        yield key, image, answer


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


def read_baseline(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics, constraints) from a folder holding both files."""
    try:
        return (
            json.loads((folder / "statistics.json").read_text(encoding="utf-8")),
            json.loads((folder / "constraints.json").read_text(encoding="utf-8")),
        )
    except (OSError, ValueError) as error:
        raise BaselineError(f"cannot read the baseline in {folder}: {error}") from error


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise BaselineError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")


def upload_baseline(
    s3: Any, bucket: str, prefix: str, statistics: Mapping[str, Any], constraints: Mapping[str, Any]
) -> list[str]:
    """Put both files at s3://bucket/prefix/{statistics,constraints}.json, where both engines read them.

    From a folder URI: upload_baseline(s3, *split_s3_uri("s3://bucket/monitoring/baseline"), statistics, ...).
    """
    uris = []
    for name, document in (("statistics.json", statistics), ("constraints.json", constraints)):
        key = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
        uris.append(f"s3://{bucket}/{key}")
    return uris


def load_answers(path: Path) -> dict[str, Any]:
    """{image key: the endpoint's answer} from {"key": answer} or [{"image": key, "answer": answer}, ...]."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BaselineError(f"cannot read answers {path}: {error}") from error
    if isinstance(document, dict):
        return {str(k): v for k, v in document.items()}
    if isinstance(document, list):
        result = {}
        for item in document:
            if not isinstance(item, dict) or "image" not in item or "answer" not in item:
                raise BaselineError(f"{path}: each item needs 'image' and 'answer'")
            result[str(item["image"])] = item["answer"]
        return result
    raise BaselineError(f"{path}: expected an object or a list")


def lookup_answer(answers: Mapping[str, Any], key: str) -> Any:
    """The answer recorded for an image key, by its full key, POSIX path, file name or stem."""
    path = Path(key)
    for candidate in (key, path.as_posix(), path.name, path.stem):
        if candidate in answers:
            return answers[candidate]
    raise BaselineError(f"no answer recorded for {key}")


def list_images(directory: Path, list_file: Path | None = None) -> list[Path]:
    """Image paths named by the split's .lst file(s) (last column = relative path), else every PNG/JPEG."""
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
    return paths or sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
