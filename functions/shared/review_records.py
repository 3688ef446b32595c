"""Reading the stored review records back: the retrain guard's "new labels" count and the ETL's `--add-reviewed`.

Records lie one JSON object per review under `<prefix>/yyyy/mm/dd/hh/<review_id>.json` (shared.reviews,
`review_record_key`). Only a vehicle label of an image the synthetic probe did not send is training data
(`is_training_label`); `neither` and the probe's known images never are.

Keys sort by the hour the reviewer decided, so a count "since" a moment starts listing at that hour's folder
(ListObjectsV2 `StartAfter`: "where you want Amazon S3 to start listing from ... after this specified key",
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html) and reads no older record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError
from botocore.exceptions import BotoCoreError, ClientError

from shared.reviews import VEHICLE_LABELS, ReviewRecord

DEFAULT_REVIEW_RECORDS_PREFIX = "reviews"


class ReviewRecordsUnreadable(Exception):
    """The review-records prefix could not be listed or a record could not be fetched (permissions, throttling)."""


@dataclass(frozen=True)
class StoredReview:
    """One object under the prefix: its record, or why it is not one (`problem`)."""

    key: str
    record: ReviewRecord | None
    problem: str | None = None


@dataclass(frozen=True)
class LabelCount:
    new_labels: int
    records_read: int
    unreadable: list[str]
    since: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_labels": self.new_labels,
            "review_records_read": self.records_read,
            "unreadable_review_records": self.unreadable[:10],
            "labels_since": self.since.isoformat() if self.since else None,
        }


def is_training_label(record: ReviewRecord) -> bool:
    """A label the model can learn from: a vehicle class, on an image the probe did not send."""
    return record.label in VEHICLE_LABELS and not record.probe


def decided_at(record: ReviewRecord) -> datetime:
    """The decision time as an aware UTC datetime (a record without an offset is taken as UTC)."""
    moment = record.decided_at
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _start_after(prefix: str, since: datetime | None) -> str | None:
    """The key before the first record of `since`'s hour (`<prefix>/yyyy/mm/dd/hh` sorts before its contents)."""
    if since is None:
        return None
    return f"{prefix.strip('/')}/{since.astimezone(UTC):%Y/%m/%d/%H}"


def iter_review_records(
    s3: Any, bucket: str, prefix: str = DEFAULT_REVIEW_RECORDS_PREFIX, since: datetime | None = None
) -> Iterator[StoredReview]:
    """Every record under `prefix` (from `since`'s hour on, when given), oldest hour first.

    A record that is not JSON or not a ReviewRecord is yielded with its problem, never raised: one bad object
    must not hide the others. Listing or fetching failures raise ReviewRecordsUnreadable.
    """
    folder = f"{prefix.strip('/')}/"
    options: dict[str, Any] = {"Bucket": bucket, "Prefix": folder}
    if (start := _start_after(prefix, since)) is not None:
        options["StartAfter"] = start
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(**options):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith(".json"):
                    continue
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                try:
                    record = ReviewRecord.model_validate(json.loads(body))
                except (ValueError, ValidationError) as error:  # JSONDecodeError is a ValueError
                    yield StoredReview(key, None, f"{type(error).__name__}: {str(error).splitlines()[0]}")
                    continue
                if since is not None and decided_at(record) <= since:
                    continue
                yield StoredReview(key, record)
    except (ClientError, BotoCoreError) as error:
        raise ReviewRecordsUnreadable(f"cannot read review records under s3://{bucket}/{folder}: {error}") from error


def count_new_labels(
    s3: Any,
    bucket: str,
    prefix: str = DEFAULT_REVIEW_RECORDS_PREFIX,
    since: datetime | None = None,
    enough: int | None = None,
) -> LabelCount:
    """Training labels decided after `since` (all, when None), one per image (`decision_key`: a second review of
    the same image is not a second label); stops reading once `enough` are counted."""
    images: set[str] = set()
    read, unreadable = 0, []
    for stored in iter_review_records(s3, bucket, prefix, since):
        read += 1
        if stored.record is None:
            unreadable.append(stored.key)
        elif is_training_label(stored.record):
            images.add(stored.record.decision_key)
            if enough is not None and len(images) >= enough:
                break
    return LabelCount(len(images), read, unreadable, since)
