"""Named workflow errors.

Lambda reports an uncaught exception's class name as `errorType`, and `inference.asl.json` matches those names
in `Retry`/`Catch`. Renaming a class here is therefore a change to the state machine's contract.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every error a handler raises on purpose; anything else is a bug."""


class InvalidEvent(WorkflowError):
    """The event does not match the step's contract (the message names the field)."""


class ImageNotFound(WorkflowError):
    """The S3 bucket or object does not exist (or cannot be read)."""


class InvalidImage(WorkflowError):
    """The object is not a decodable PNG or JPEG."""


class ImageTooLarge(WorkflowError):
    """The object exceeds the byte or pixel limit, or cannot be made to fit the payload budget."""


class EndpointThrottled(WorkflowError):
    """SageMaker throttled the request; the state machine retries it."""


class EndpointUnavailable(WorkflowError):
    """SageMaker failed server-side or could not be reached; the state machine retries it."""


class ModelError(WorkflowError):
    """The endpoint rejected the request or the model container failed on it; not retried."""


class InvalidModelResponse(WorkflowError):
    """The endpoint answered, but not with one probability per configured label."""


class ConfigurationError(WorkflowError):
    """An environment variable is missing or invalid: a deployment problem, not a data problem."""


class ThresholdNotConfigured(ConfigurationError):
    """Neither CONFIDENCE_THRESHOLD is set nor did the model report its own threshold: nothing to route by."""
