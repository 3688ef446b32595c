"""filter_inferences: the last inference step, probabilities -> the courier's route, or human review.

In: classify_image's output (`shared.contracts.Classification`).
Out: the same plus `predicted_label`, `confidence` (the top probability) and `route`.

Env: CONFIDENCE_THRESHOLD (default 0.80; a float strictly between 0 and 1; a top probability exactly equal
to it passes), LABEL_ROUTES (default {"bicycle": "nearby", "motorcycle": "distant"}; JSON, label -> route).
Below the threshold, or with two labels tied for the top, it raises ThresholdConfidenceNotMet and the state
machine sends the image to human review. A predicted label without a route raises ConfigurationError.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.contracts import Classification, RoutedPrediction, parse_event
from shared.errors import ConfigurationError, ThresholdConfidenceNotMet

DEFAULT_CONFIDENCE_THRESHOLD = 0.80
DEFAULT_LABEL_ROUTES: Mapping[str, str] = {"bicycle": "nearby", "motorcycle": "distant"}

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def load_threshold(environ: Mapping[str, str]) -> float:
    """CONFIDENCE_THRESHOLD as a float strictly between 0 and 1 (0 or 1 would make the filter meaningless)."""
    raw = environ.get("CONFIDENCE_THRESHOLD", "").strip()
    if not raw:
        return DEFAULT_CONFIDENCE_THRESHOLD
    try:
        threshold = float(raw)
    except ValueError:
        raise ConfigurationError(f"CONFIDENCE_THRESHOLD={raw!r} is not a number") from None
    if not (math.isfinite(threshold) and 0.0 < threshold < 1.0):
        raise ConfigurationError(f"CONFIDENCE_THRESHOLD={raw!r} must be strictly between 0 and 1")
    return threshold


def load_label_routes(environ: Mapping[str, str]) -> dict[str, str]:
    """LABEL_ROUTES as a JSON object of non-empty label -> non-empty route names."""
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
    return routes


def route_prediction(classification: Classification, threshold: float, routes: Mapping[str, str]) -> RoutedPrediction:
    """Pick the top label and its route; refuse when the model is not sure enough to skip a person."""
    ranked = sorted(zip(classification.inferences, classification.labels, strict=True), reverse=True)
    confidence, label = ranked[0]
    if label not in routes:
        # Checked before the threshold, so a missing route surfaces even while predictions are unsure.
        raise ConfigurationError(
            f"LABEL_ROUTES has no route for predicted label {label!r} (routes exist for {sorted(routes)})"
        )
    if confidence < threshold:
        raise ThresholdConfidenceNotMet(
            f"top label {label!r} has confidence {confidence!r}, below CONFIDENCE_THRESHOLD {threshold!r}"
        )
    if len(ranked) > 1 and ranked[1][0] == confidence:
        raise ThresholdConfidenceNotMet(
            f"labels {ranked[1][1]!r} and {label!r} tie at confidence {confidence!r} "
            f"(CONFIDENCE_THRESHOLD {threshold!r}); a person must decide"
        )
    return RoutedPrediction(
        **classification.model_dump(),
        predicted_label=label,
        confidence=confidence,
        route=routes[label],
    )


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    threshold = load_threshold(os.environ)
    routes = load_label_routes(os.environ)
    classification = parse_event(event, Classification)
    try:
        prediction = route_prediction(classification, threshold, routes)
    except ThresholdConfidenceNotMet as exc:
        metrics.add_metric(name="LowConfidencePredictions", unit=MetricUnit.Count, value=1)
        logger.info("sent to human review", extra={"s3_key": classification.s3_key, "reason": str(exc)})
        raise

    metrics.add_metric(name="ConfidentPredictions", unit=MetricUnit.Count, value=1)
    with single_metric(name="Routes", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as route_metric:
        route_metric.add_dimension(name="route", value=prediction.route)
        if metrics.service:
            route_metric.add_dimension(name="service", value=str(metrics.service))
    logger.info(
        "prediction routed",
        extra={
            "s3_key": prediction.s3_key,
            "predicted_label": prediction.predicted_label,
            "confidence": prediction.confidence,
            "route": prediction.route,
        },
    )
    return prediction.model_dump(exclude_none=True)
