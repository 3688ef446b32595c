"""Emptying a bucket whose versioning was suspended while it held delete markers.

`terraform destroy` suspends a bucket's versioning (the `aws_s3_bucket_versioning` resource goes first) and then
empties the bucket (`force_destroy`). moto deletes from a bucket whose versioning is not enabled by dropping every
version of the key, and asks each to release its buffer, which a delete marker has no method for: the request
fails with a 500 (`'FakeDeleteMarker' object has no attribute 'dispose'`) and so does the destroy. A delete
marker holds no data, so releasing it does nothing. A delete marker is left whenever an object is deleted
without a version id from a versioned bucket; one in the data bucket failed a demo's destroy.
"""

from __future__ import annotations

from typing import Any


def _release_nothing(self: Any, garbage: bool = False) -> None:
    """A delete marker has no buffer to release."""


def install(ctx: Any) -> None:
    from moto.s3.models import FakeDeleteMarker

    if not hasattr(FakeDeleteMarker, "dispose"):
        FakeDeleteMarker.dispose = _release_nothing  # type: ignore[attr-defined]
