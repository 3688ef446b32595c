"""filter_inferences: the last inference step, probabilities -> the courier's route, or a person's decision.

In: classify_image's output (`shared.contracts.Classification`).
Out: the same plus `predicted_label` (the top label), `confidence` (its probability), `route`, the
`confidence_threshold` applied and its `threshold_source`; `route` is the label's route (LABEL_ROUTES) when the
top probability reaches the threshold, else `human_review` with a `review_reason` (BelowConfidenceThreshold, or
TopLabelsTied when two labels share the top). Unsure is a decision, not an error: the state machine's Choice
sends `human_review` to the review queue, and the function's Lambda Errors count failures only.

Env: CONFIDENCE_THRESHOLD (optional: Terraform's override, a float strictly between 0 and 1; a top probability
exactly equal to it passes). Without it the model's own threshold applies (`model_confidence_threshold`, chosen in
training); with neither the function raises ThresholdNotConfigured, never a silent default. LABEL_ROUTES (default
{"bicycle": "nearby", "motorcycle": "distant"}; JSON, label -> route; no label may be routed to human_review).
A predicted label without a route raises ConfigurationError.

Audit sampling: AUDIT_SAMPLE_RATE (optional, 0 to 1, default 0) is the share of confident, automatically routed
predictions that also go to a person (`audit_sample: true`; the state machine routes and publishes them as usual,
then queues them for review with reason AuditSample), so the precision of automatic routes is measured. Whether a
prediction is sampled depends only on its `inference_id` (the first 8 bytes of its SHA-256 read as a fraction of
2**64, below the rate), so a retried execution decides the same; a prediction without an inference id is never
sampled (its review could not be matched to the captured request). A bad value raises ConfigurationError.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.contracts import HUMAN_REVIEW_ROUTE, Classification, RoutedPrediction, parse_event
from shared.errors import ConfigurationError, ThresholdNotConfigured

DEFAULT_LABEL_ROUTES: Mapping[str, str] = {"bicycle": "nearby", "motorcycle": "distant"}

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def load_threshold_override(environ: Mapping[str, str]) -> float | None:
    """CONFIDENCE_THRESHOLD, when Terraform sets it: a float strictly between 0 and 1."""
    raw = environ.get("CONFIDENCE_THRESHOLD", "").strip()
    if not raw:
        return None
    try:
        threshold = float(raw)
    except ValueError:
        raise ConfigurationError(f"CONFIDENCE_THRESHOLD={raw!r} is not a number") from None
    if not (math.isfinite(threshold) and 0.0 < threshold < 1.0):
        raise ConfigurationError(f"CONFIDENCE_THRESHOLD={raw!r} must be strictly between 0 and 1")
    return threshold


def resolve_threshold(override: float | None, classification: Classification) -> tuple[float, str]:
    """(threshold, source): Terraform's override when set, else the threshold the model chose in training."""
    if override is not None:
        return override, "terraform"
    if classification.model_confidence_threshold is not None:
        return classification.model_confidence_threshold, "model"
    raise ThresholdNotConfigured(
        f"no confidence threshold: CONFIDENCE_THRESHOLD is not set and model {classification.model_version!r} "
        "reported none; set Terraform's confidence_threshold, or deploy a model whose answer carries its own"
    )


def load_audit_sample_rate(environ: Mapping[str, str]) -> float:
    """AUDIT_SAMPLE_RATE: the share of automatic routes also sent to review, from 0 (none, the default) to 1 (all)."""
    raw = environ.get("AUDIT_SAMPLE_RATE", "").strip()
    if not raw:
        return 0.0
    try:
        rate = float(raw)
    except ValueError:
        raise ConfigurationError(f"AUDIT_SAMPLE_RATE={raw!r} is not a number") from None
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise ConfigurationError(f"AUDIT_SAMPLE_RATE={raw!r} must be between 0 and 1")
    return rate


def audit_fraction(inference_id: str) -> float:
    """Where an inference id falls in [0, 1): the same for every attempt of the same execution."""
    digest = hashlib.sha256(inference_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_audit_sample(inference_id: str | None, rate: float) -> bool:
    """Whether a confident prediction with this inference id is also sent to a person."""
    return inference_id is not None and audit_fraction(inference_id) < rate


def load_label_routes(environ: Mapping[str, str]) -> dict[str, str]:
    """LABEL_ROUTES as a JSON object of non-empty label -> non-empty route names (never human_review)."""
    raw = environ.get("LABEL_ROUTES", "").strip()
    if not raw:
        return dict(DEFAULT_LABEL_ROUTES)
    try:
        routes = json.loads(raw)
    except (ValueError, RecursionError):
        raise ConfigurationError(f"LABEL_ROUTES is not valid JSON: {raw[:200]!r}") from None
    if not isinstance(routes, dict) or not routes:
        raise ConfigurationError(f"LABEL_ROUTES must be a non-empty JSON object of label -> route, got {raw[:200]!r}")
    for label, route in routes.items():
        if not label or not isinstance(route, str) or not route:
            raise ConfigurationError(f"LABEL_ROUTES maps {label!r} to {route!r}; routes must be non-empty strings")
        if route == HUMAN_REVIEW_ROUTE:
            raise ConfigurationError(
                f"LABEL_ROUTES routes {label!r} to {HUMAN_REVIEW_ROUTE!r}, the route of unsure predictions"
            )
    return routes


def route_prediction(
    classification: Classification,
    threshold: float,
    source: str,
    routes: Mapping[str, str],
    audit_sample_rate: float = 0.0,
) -> RoutedPrediction:
    """Pick the top label and its route, or human review when the model is not sure enough to skip a person; a
    confident prediction may also be an audit sample (see the module docstring)."""
    ranked = sorted(zip(classification.inferences, classification.labels, strict=True), reverse=True)
    confidence, label = ranked[0]
    if label not in routes:
        # Checked before the threshold, so a missing route surfaces even while predictions are unsure.
        raise ConfigurationError(
            f"LABEL_ROUTES has no route for predicted label {label!r} (routes exist for {sorted(routes)})"
        )
    reason = None
    if confidence < threshold:
        reason = "BelowConfidenceThreshold"
    elif len(ranked) > 1 and ranked[1][0] == confidence:
        reason = "TopLabelsTied"
    return RoutedPrediction(
        **classification.model_dump(),
        predicted_label=label,
        confidence=confidence,
        route=HUMAN_REVIEW_ROUTE if reason else routes[label],
        confidence_threshold=threshold,
        threshold_source=source,
        review_reason=reason,
        audit_sample=reason is None and is_audit_sample(classification.inference_id, audit_sample_rate),
    )


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    override = load_threshold_override(os.environ)
    routes = load_label_routes(os.environ)
    audit_sample_rate = load_audit_sample_rate(os.environ)
    classification = parse_event(event, Classification)
    threshold, source = resolve_threshold(override, classification)
    prediction = route_prediction(classification, threshold, source, routes, audit_sample_rate)

    unsure = prediction.route == HUMAN_REVIEW_ROUTE
    if unsure:
        metrics.add_metric(name="LowConfidencePredictions", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="ConfidentPredictions", unit=MetricUnit.Count, value=1)
    if prediction.audit_sample:
        metrics.add_metric(name="AuditSamples", unit=MetricUnit.Count, value=1)
    with single_metric(name="Routes", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as route_metric:
        route_metric.add_dimension(name="route", value=prediction.route)
        if metrics.service:
            route_metric.add_dimension(name="service", value=str(metrics.service))
    logger.info(
        "sent to human review" if unsure else "prediction routed",
        extra={
            "s3_key": prediction.s3_key,
            "predicted_label": prediction.predicted_label,
            "confidence": prediction.confidence,
            "route": prediction.route,
            "review_reason": prediction.review_reason,
            "confidence_threshold": threshold,
            "threshold_source": source,
            "model_version": prediction.model_version,
            "inference_id": prediction.inference_id,
            "audit_sample": prediction.audit_sample,
        },
    )
    return prediction.model_dump(exclude_none=True)
