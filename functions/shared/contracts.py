"""The event and result shapes of the inference workflow, each defined once.

serialize_image: `ImageLocation` (or an EventBridge S3 "Object Created" event) -> `SerializedImage`
classify_image:  `SerializedImage` -> `Classification` (reading the endpoint's `ModelAnswer`)
filter_inferences: `Classification` -> `RoutedPrediction` (route `nearby`, `distant`, ... or `human_review`)

Handlers, tests and the sample events in `functions/<name>/events/` all go through these models, so a
field renamed here is renamed everywhere. Every model ignores unknown keys (Step Functions passes the whole
state) and carries the optional `execution_name` along so each step logs the execution as its correlation id,
and `probe` (false unless the synthetic probe sent the image) so that the published decision says so.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
    parse,
)
from pydantic import ConfigDict

from shared.errors import InvalidEvent

S3_KEY_MAX_BYTES = 1024
"""S3's own limit on an object key, in UTF-8 bytes."""

BucketName = Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-zA-Z0-9._-]+$")]
ObjectKey = Annotated[str, Field(min_length=1, max_length=S3_KEY_MAX_BYTES)]
ExecutionName = Annotated[str, Field(min_length=1, max_length=256)]
ContentType = Literal["image/png", "image/jpeg"]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Threshold = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)]
"""A confidence threshold: strictly between 0 and 1 (0 or 1 would make the filter meaningless)."""
ModelVersion = Annotated[str, Field(min_length=1, max_length=256)]
RouteName = Annotated[str, Field(min_length=1, max_length=128)]
InferenceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S[\x20-\x7e]*$")]
"""InvokeEndpoint's InferenceId: 1-64 printable characters, not starting with whitespace (SageMaker API reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html). Data capture records
it as the captured record's `eventMetadata.inferenceId`, and ground-truth labels name it as their eventId."""

HUMAN_REVIEW_ROUTE = "human_review"
"""The route of a prediction a person must decide; no label may be routed there by LABEL_ROUTES."""
UNKNOWN_MODEL_VERSION = "unknown"
"""model_version of a model that does not say which training job made it (a bare probability list)."""
ReviewReason = Literal["BelowConfidenceThreshold", "TopLabelsTied"]

_MAX_REPORTED_PROBLEMS = 5

ModelT = TypeVar("ModelT", bound=BaseModel)


class _Contract(BaseModel):
    # strict: a number is not a label and "0.9" is not a probability; extra keys are other steps' business.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class ImageLocation(_Contract):
    """Where the image to classify lives: the direct input of serialize_image."""

    s3_bucket: BucketName
    s3_key: ObjectKey
    execution_name: ExecutionName | None = None
    probe: bool = False
    """True for the synthetic probe's images: their decisions are published marked, for dispatch to ignore."""

    @field_validator("s3_key")
    @classmethod
    def _key_fits_s3(cls, key: str) -> str:
        size = len(key.encode("utf-8"))
        if size > S3_KEY_MAX_BYTES:
            raise ValueError(f"is {size} bytes in UTF-8; S3 keys are at most {S3_KEY_MAX_BYTES}")
        return key


class _EventBridgeBucket(_Contract):
    name: BucketName


class _EventBridgeObject(_Contract):
    key: ObjectKey
    size: Annotated[int, Field(ge=0)] | None = None


class _ObjectCreatedDetail(_Contract):
    bucket: _EventBridgeBucket
    object: _EventBridgeObject


class S3ObjectCreatedEvent(_Contract):
    """The EventBridge event S3 sends for a new object; only the fields the workflow uses are checked.

    EventBridge carries the object key as stored (unlike S3's legacy notifications, it is not URL-encoded).
    """

    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: _ObjectCreatedDetail
    execution_name: ExecutionName | None = None

    def to_location(self) -> ImageLocation:
        return ImageLocation(
            s3_bucket=self.detail.bucket.name,
            s3_key=self.detail.object.key,
            execution_name=self.execution_name,
        )


class SerializedImage(ImageLocation):
    """serialize_image's result and classify_image's input: the image itself, base64-encoded."""

    image_data: Annotated[str, Field(min_length=4)]
    content_type: ContentType
    workflow_execution: ExecutionName | None = None
    """The Step Functions execution's name (`$$.Execution.Name`), which the state machine adds to classify_image's
    input: the source of the inference id."""

    @field_validator("image_data")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"is not valid base64 ({exc})") from None
        return value

    def image_bytes(self) -> bytes:
        return base64.b64decode(self.image_data, validate=True)


class ModelAnswer(BaseModel):
    """The endpoint's JSON object (training/sourcedir/inference.py): probabilities, their labels, the model's own
    confidence threshold and the training job that made it. One image: `probabilities` is a list; a batch: a list
    of lists in request order. The probabilities themselves are checked by classify_image (numbers, [0, 1], sum
    to 1), which names the offending value.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    probabilities: list[Any]
    labels: Annotated[list[Label], Field(min_length=1, max_length=1000)] | None = None
    confidence_threshold: Threshold | None = None
    model_version: ModelVersion | None = None


class Classification(ImageLocation):
    """classify_image's result and filter_inferences' input: one probability per label, in label order.

    `model_version` names the training job of the model that answered ("unknown" for a model deployed before
    models reported it), `model_confidence_threshold` the threshold that model chose in training (None when it
    reported none), `inference_id` the InferenceId of the endpoint request.
    """

    content_type: ContentType
    labels: Annotated[list[Label], Field(min_length=1, max_length=1000)]
    inferences: Annotated[list[Probability], Field(min_length=1, max_length=1000)]
    model_version: ModelVersion = UNKNOWN_MODEL_VERSION
    model_confidence_threshold: Threshold | None = None
    inference_id: InferenceId | None = None
    """The InferenceId the endpoint was invoked with (in its data capture too): what a review's label names."""

    @model_validator(mode="after")
    def _one_probability_per_label(self) -> Classification:
        if len(self.labels) != len(self.inferences):
            raise ValueError(
                f"labels has {len(self.labels)} entries but inferences has {len(self.inferences)}; "
                "they must pair up one to one"
            )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be unique, got {self.labels}")
        return self


class RoutedPrediction(Classification):
    """filter_inferences' result: the top label, its confidence, and the route: the label's route when the model
    is sure enough, `human_review` (with the reason) when a person must decide. `confidence_threshold` is the one
    applied, `threshold_source` where it came from (Terraform's override, or the model's own).
    """

    predicted_label: Label
    confidence: Probability
    route: RouteName
    confidence_threshold: Threshold
    threshold_source: Literal["terraform", "model"]
    review_reason: ReviewReason | None = None
    audit_sample: bool = False
    """True for a confident, automatically routed prediction sampled (AUDIT_SAMPLE_RATE) for a person to check
    as well: the route stands, and the review measures how precise automatic routes are."""


class ImageRef(_Contract):
    s3_bucket: BucketName
    s3_key: ObjectKey


class InferenceAnswer(BaseModel):
    """What inference_api answers a caller (HTTP 200): the decision the workflow made and published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: RouteName
    predicted_label: Label
    confidence: Probability
    confidence_threshold: Threshold
    model_version: ModelVersion
    review_reason: ReviewReason | None = None
    image: ImageRef
    execution_arn: Annotated[str, Field(min_length=1, max_length=2048)]


class ApiError(BaseModel):
    """What inference_api answers with a 4xx/5xx: the named reason and a sentence about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error: Annotated[str, Field(min_length=1, max_length=128)]
    message: Annotated[str, Field(max_length=2048)]


def parse_event(event: Any, model: type[ModelT]) -> ModelT:
    """Validate `event` against `model`; a mismatch becomes InvalidEvent naming the offending fields."""
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        # `from None`: pydantic's own message repeats the input, which may be a 200 KB base64 image.
        raise InvalidEvent(f"invalid {model.__name__} event: {describe_validation_error(exc)}") from None


def parse_image_request(event: Any) -> ImageLocation:
    """serialize_image accepts `{"s3_bucket", "s3_key"}` or an EventBridge S3 "Object Created" event."""
    if isinstance(event, dict) and "s3_bucket" not in event and "detail" in event:
        return parse_event(event, S3ObjectCreatedEvent).to_location()
    try:
        return parse_event(event, ImageLocation)
    except InvalidEvent as exc:
        raise InvalidEvent(f"{exc} (or send an EventBridge S3 'Object Created' event)") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, `field.path: reason`, without echoing the input values."""
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    lines = [
        f"{'.'.join(str(part) for part in problem['loc']) or '<event>'}: {problem['msg']}"
        for problem in problems[:_MAX_REPORTED_PROBLEMS]
    ]
    if len(problems) > _MAX_REPORTED_PROBLEMS:
        lines.append(f"... and {len(problems) - _MAX_REPORTED_PROBLEMS} more")
    return "; ".join(lines)
