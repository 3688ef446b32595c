"""`python -m etl --add-reviewed`: the reviewed photos become the next dataset version's extra training images.

Reads every review record under `s3://<reviews bucket>/<reviews prefix>/` (shared.review_records), keeps, per
image (`decision_key`), the newest decision, and adds each vehicle label of an image the synthetic probe did
not send to a copy of the base dataset's train split, never to validation or test (which stay the base's, so
versions are compared on the same images). Each photo goes through the training code's own steps (decode, EXIF
rotation, RGB, centre crop, bicubic resize to 32 x 32; training/sourcedir/preprocessing.py) and is stored as the
ETL's own reproducible PNG, so the training job reads it exactly like a CIFAR image.

A version holds all reviewed images so far (the base plus every label), not the last run's only: a review that
was changed to `neither` leaves the next version. A run whose images, labels and base are those of the newest
version makes none and says so. A review whose photo is gone, unreadable, undecodable or too large, or whose
image is one of the validation/test images, is skipped under a named reason and reported; the others go on.
See etl/versions.py for the layout.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageOps

from etl import manifest as manifest_io
from etl.errors import BucketUnreachable, DatasetMissing, LoadFailed, OutputNotWritable, ReviewsUnreadable
from etl.load import DEFAULT_CONCURRENCY, LoadResult, check_bucket, key_prefix, load_dataset, make_client
from etl.png import encode_planes
from etl.progress import Reporter
from etl.versions import VERSION_FILE, VERSION_FORMAT, list_versions, version_name, version_prefix

# The review contract is the Lambdas' shared package (functions/shared/reviews.py); the ETL runs from the
# repository, so it reads it from there, behind anything already on the path.
_FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
if str(_FUNCTIONS) not in sys.path:
    sys.path.append(str(_FUNCTIONS))
from shared.review_records import (  # noqa: E402
    DEFAULT_REVIEW_RECORDS_PREFIX,
    ReviewRecordsUnreadable,
    decided_at,
    iter_review_records,
)
from shared.reviews import NOT_A_VEHICLE, ReviewRecord  # noqa: E402

IMAGE_SIZE = 32  # training/sourcedir/preprocessing.py IMAGE_SIZE: what train.py reads
MAX_IMAGE_BYTES = 25 * 1024 * 1024  # serialize_image's default limit: a photo the workflow accepted fits
MAX_IMAGE_PIXELS = 50_000_000  # preprocessing.MAX_IMAGE_PIXELS
REVIEWED_FILE = "reviewed-{}.png"
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


class ImageSkipped(Exception):
    """One review's photo cannot become a training image; the class name is the reported reason."""


class ImageGone(ImageSkipped):
    """The photo is no longer in S3 (NoSuchKey: deleted, or expired by a lifecycle rule)."""


class ImageUnreadable(ImageSkipped):
    """S3 refused the photo (access denied, throttling after retries)."""


class ImageTooLarge(ImageSkipped):
    pass


class ImageUndecodable(ImageSkipped):
    """Not an image Pillow can decode (truncated, not PNG/JPEG/...)."""


class SameAsEvaluationImage(ImageSkipped):
    """The photo has the pixels of a validation or test image: training on it would inflate the accuracy gate."""


class AlreadyInTrainSplit(ImageSkipped):
    """The photo has the pixels of an image the base train split already holds."""


class DuplicateImage(ImageSkipped):
    """Another review (another decision_key) already added these pixels."""


class LabelNotAClass(ImageSkipped):
    """The reviewer's label is not one of the dataset's classes."""


class UnreadableRecord(ImageSkipped):
    """An object under the review-records prefix that is not a ReviewRecord."""


@dataclass(frozen=True)
class Skip:
    review_id: str  # the object key for an UnreadableRecord
    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"review_id": self.review_id, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class ReviewedImage:
    record: ReviewRecord
    label: int
    file: str
    png: bytes
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "review_id": self.record.review_id,
            "decision_key": self.record.decision_key,
            "label": self.record.label,
            "file": f"train/{self.file}",
            "sha256": self.sha256,
            "image": f"s3://{self.record.image.s3_bucket}/{self.record.image.s3_key}",
            "decided_at": decided_at(self.record).isoformat(),
        }


@dataclass
class ReviewedResult:
    bucket: str
    dataset_prefix: str
    version: str | None  # the version written (or, with dry_run, that would be); None when up to date
    images: list[ReviewedImage] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # review ids new since the previous version
    removed: list[str] = field(default_factory=list)  # review ids of the previous version no longer in
    skipped: list[Skip] = field(default_factory=list)
    not_training_data: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    previous: str | None = None
    load: LoadResult | None = None
    dry_run: bool = False

    @property
    def up_to_date(self) -> bool:
        return self.version is None

    def summary(self) -> str:
        skipped = (
            f"; skipped {len(self.skipped)}: "
            + ", ".join(f"{s.review_id} ({s.reason})" for s in self.skipped[:5])
            + (" ..." if len(self.skipped) > 5 else "")
            if self.skipped
            else ""
        )
        ignored = ", ".join(f"{count} {what}" for what, count in sorted(self.not_training_data.items()) if count)
        ignored = f"; not training data: {ignored}" if ignored else ""
        if self.up_to_date:
            return (
                f"up to date: {self.previous or 'the base dataset'} already holds the {len(self.images)} "
                f"reviewed images, no new version{ignored}{skipped}"
            )
        where = f"s3://{self.bucket}/{version_prefix(self.dataset_prefix, self.version or '')}/"
        verb = "would write" if self.dry_run else "wrote"
        train = self.counts.get("train", {})
        detail = ", ".join(f"{cls} {count}" for cls, count in train.items())
        return (
            f"{verb} dataset version {self.version} at {where}: train {sum(train.values())} ({detail}) = base + "
            f"{len(self.images)} reviewed ({len(self.added)} new, {len(self.removed)} removed since "
            f"{self.previous or 'the base'}){ignored}{skipped}"
        )


# -- one photo -> one training PNG ---------------------------------------------------------------------------------
def to_planes(data: bytes, size: int = IMAGE_SIZE) -> np.ndarray:
    """Photo bytes -> (3, size, size) uint8 planes, by preprocessing.py's steps (decode_image, resize_image)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageTooLarge(f"{image.width}x{image.height} pixels exceeds {MAX_IMAGE_PIXELS}")
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except ImageSkipped:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageUndecodable(f"cannot decode the photo: {error}") from None
    if upright.size != (size, size):
        side = min(upright.size)
        left, top = (upright.width - side) // 2, (upright.height - side) // 2
        upright = upright.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.ascontiguousarray(np.asarray(upright, dtype=np.uint8).transpose(2, 0, 1))


def training_png(data: bytes) -> bytes:
    """The ETL's PNG of a photo: the same pixels always give the same file (etl/png.py)."""
    return encode_planes(to_planes(data)[None])[0].tobytes()


def file_name(review_id: str) -> str:
    """`reviewed-<review id>.png`, or of its hash when the id is not a plain file name."""
    if _PLAIN_ID.fullmatch(review_id):
        return REVIEWED_FILE.format(review_id)
    return REVIEWED_FILE.format(hashlib.sha256(review_id.encode()).hexdigest()[:32])


def fetch_photo(s3: Any, record: ReviewRecord) -> bytes:
    where = f"s3://{record.image.s3_bucket}/{record.image.s3_key}"
    try:
        found = s3.get_object(Bucket=record.image.s3_bucket, Key=record.image.s3_key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NoSuchBucket"}:
            raise ImageGone(f"{where} is gone ({code})") from None
        raise ImageUnreadable(f"{where}: {code or error}") from None
    except BotoCoreError as error:
        raise ImageUnreadable(f"{where}: {error}") from None
    if int(found.get("ContentLength") or 0) > MAX_IMAGE_BYTES:
        found["Body"].close()
        raise ImageTooLarge(f"{where} is {found['ContentLength']} bytes; at most {MAX_IMAGE_BYTES}")
    return found["Body"].read()


# -- which reviews ---------------------------------------------------------------------------------------------------
def newest_per_image(records: Iterable[ReviewRecord]) -> list[ReviewRecord]:
    """One decision per image: a later review of the same decision_key replaces the earlier one."""
    newest: dict[str, ReviewRecord] = {}
    for record in records:
        seen = newest.get(record.decision_key)
        if seen is None or (decided_at(record), record.review_id) > (decided_at(seen), seen.review_id):
            newest[record.decision_key] = record
    return sorted(newest.values(), key=lambda r: (decided_at(r), r.review_id))


def collect(
    s3: Any, reviews_bucket: str, reviews_prefix: str, manifest: dict[str, Any], reporter: Reporter
) -> tuple[list[ReviewedImage], list[Skip], dict[str, int]]:
    """The reviewed images the next version holds, the named skips, and the counts of what is not training data."""
    try:
        stored = list(iter_review_records(s3, reviews_bucket, reviews_prefix))
    except ReviewRecordsUnreadable as error:
        raise ReviewsUnreadable(str(error)) from None
    skips = [Skip(s.key, UnreadableRecord.__name__, s.problem or "") for s in stored if s.record is None]
    records = [s.record for s in stored if s.record is not None]
    latest = newest_per_image(records)
    ignored = {"neither": 0, "probe": 0, "superseded": len(records) - len(latest)}
    class_map: dict[str, int] = manifest["class_map"]
    splits = manifest["splits"]
    evaluation = {f["sha256"] for name in ("validation", "test") for f in splits[name]["files"].values()}
    in_train = {f["sha256"] for f in splits["train"]["files"].values()}
    images: list[ReviewedImage] = []
    taken: set[str] = set()
    with reporter.bar("reviewed photos", len(latest), unit="images") as bar:
        for record in latest:
            bar.update(1)
            if record.probe:
                ignored["probe"] += 1
                continue
            if record.label == NOT_A_VEHICLE:
                ignored["neither"] += 1
                continue
            try:
                if record.label not in class_map:
                    raise LabelNotAClass(f"{record.label!r} is not one of {sorted(class_map)}")
                png = training_png(fetch_photo(s3, record))
                digest = hashlib.sha256(png).hexdigest()
                if digest in evaluation:
                    raise SameAsEvaluationImage("its pixels are a validation or test image of the base dataset")
                if digest in in_train:
                    raise AlreadyInTrainSplit("its pixels are already a train image of the base dataset")
                if digest in taken:
                    raise DuplicateImage("another review already added these pixels")
            except ImageSkipped as skip:
                skips.append(Skip(record.review_id, type(skip).__name__, str(skip)))
                continue
            taken.add(digest)
            images.append(ReviewedImage(record, class_map[record.label], file_name(record.review_id), png, digest))
    return images, skips, ignored


def _identity(base_sha: str, images: Iterable[dict[str, Any]]) -> tuple[str, list[tuple[str, str, str]]]:
    """What makes two versions the same dataset: the base manifest and each reviewed image's id, label, pixels."""
    return base_sha, sorted((i["review_id"], i["label"], i["sha256"]) for i in images)


# -- the version ---------------------------------------------------------------------------------------------------
def _read_base(s3: Any, bucket: str, dataset_prefix: str) -> tuple[dict[str, Any], bytes]:
    key = key_prefix(dataset_prefix) + manifest_io.MANIFEST_NAME
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body), body
    except ClientError as error:
        raise DatasetMissing(
            f"s3://{bucket}/{key} cannot be read ({error.response.get('Error', {}).get('Code', error)}): "
            "load the base dataset with `python -m etl --bucket ... --prefix ...` first"
        ) from None
    except ValueError as error:
        raise DatasetMissing(f"s3://{bucket}/{key} is not JSON: {error}") from None


def _download_base(
    s3: Any, bucket: str, dataset_prefix: str, manifest: dict[str, Any], root: Path, concurrency: int
) -> None:
    """Every file of the base dataset into `root`, checked against the manifest's sha256."""
    base = key_prefix(dataset_prefix)
    files = list(manifest_io.dataset_files(manifest))
    for folder in {Path(f.path).parent for f in files}:
        (root / folder).mkdir(parents=True, exist_ok=True)

    def fetch(item: manifest_io.WrittenFile) -> None:
        try:
            body = s3.get_object(Bucket=bucket, Key=base + item.path)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise DatasetMissing(f"s3://{bucket}/{base}{item.path} cannot be read: {error}") from None
        if hashlib.sha256(body).hexdigest() != item.sha256:
            raise DatasetMissing(f"s3://{bucket}/{base}{item.path} does not match the base manifest (re-run the ETL)")
        (root / item.path).write_bytes(body)

    with ThreadPoolExecutor(concurrency, thread_name_prefix="etl-base") as pool:
        list(pool.map(fetch, files))


def _write_version(root: Path, manifest: dict[str, Any], images: list[ReviewedImage], version: dict[str, Any]) -> None:
    """The reviewed PNGs and the longer train.lst beside the base's files, then the version's manifest."""
    train = manifest["splits"]["train"]
    classes: list[str] = manifest["classes"]
    listing = (root / train["list"]["path"]).read_text()
    start = len([line for line in listing.splitlines() if line.strip()])
    for offset, image in enumerate(images):
        (root / "train" / image.file).write_bytes(image.png)
        listing += f"{start + offset}\t{image.label}\t{image.file}\n"
        train["files"][image.file] = {
            "sha256": image.sha256,
            "size": len(image.png),
            "label": image.label,
            "class": classes[image.label],
            "review_id": image.record.review_id,
        }
    listed = listing.encode()
    (root / train["list"]["path"]).write_bytes(listed)
    train["list"] = {"path": train["list"]["path"], "sha256": hashlib.sha256(listed).hexdigest(), "size": len(listed)}
    train["count"] = len(train["files"])
    train["per_class"] = {
        cls: sum(1 for entry in train["files"].values() if entry["label"] == label) for label, cls in enumerate(classes)
    }
    manifest["dataset_version"] = version
    (root / manifest_io.MANIFEST_NAME).write_bytes(manifest_io.dumps(manifest))  # last: marks it complete


def add_reviewed(
    bucket: str,
    dataset_prefix: str,
    *,
    reviews_bucket: str | None = None,
    reviews_prefix: str = DEFAULT_REVIEW_RECORDS_PREFIX,
    output: str | Path | None = None,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    s3_client: Any = None,
    reporter: Reporter | None = None,
    now: datetime | None = None,
) -> ReviewedResult:
    """Write `<dataset prefix>/versions/v<N+1>/` = the base dataset + every reviewed vehicle image, unless the
    newest version already holds exactly those."""
    reporter = reporter or Reporter(quiet=True)
    s3 = s3_client or make_client(concurrency)
    reviews_bucket = reviews_bucket or bucket
    check_bucket(s3, bucket)
    if reviews_bucket != bucket:
        check_bucket(s3, reviews_bucket)
    manifest, manifest_bytes = _read_base(s3, bucket, dataset_prefix)
    base_sha = hashlib.sha256(manifest_bytes).hexdigest()
    try:
        versions = list_versions(s3, bucket, dataset_prefix)
    except (ClientError, BotoCoreError) as error:
        raise BucketUnreachable(f"cannot list the dataset versions in s3://{bucket}: {error}") from None
    previous = versions[-1] if versions else None
    images, skips, ignored = collect(s3, reviews_bucket, reviews_prefix, manifest, reporter)
    result = ReviewedResult(
        bucket, dataset_prefix.strip("/"), None, images, skipped=skips, not_training_data=ignored, dry_run=dry_run
    )
    result.previous = previous.name if previous else None
    listed = [image.as_dict() for image in images]
    before = previous.document.get("reviews", []) if previous else []
    before_sha = previous.document.get("base", {}).get("manifest_sha256") if previous else base_sha
    if _identity(base_sha, listed) == _identity(before_sha, before):
        return result  # nothing new (no version, and no reviews yet, is "up to date" with the base too)
    before_ids, now_ids = {r["review_id"] for r in before}, {r["review_id"] for r in listed}
    result.added = [i for i in (r["review_id"] for r in listed) if i not in before_ids]
    result.removed = sorted(before_ids - now_ids)
    result.version = version_name((previous.number if previous else 0) + 1)
    classes = manifest["classes"]
    base_counts = {name: dict(split["per_class"]) for name, split in manifest["splits"].items()}
    for image in images:
        cls = classes[image.label]
        base_counts["train"][cls] = base_counts["train"].get(cls, 0) + 1
    result.counts = base_counts
    if dry_run:
        return result

    prefix = version_prefix(dataset_prefix, result.version)
    version = {
        "name": result.version,
        "base_prefix": dataset_prefix.strip("/"),
        "base_manifest_sha256": base_sha,
        "reviewed_images": len(images),
    }
    root, temporary = (Path(output).expanduser().absolute(), False) if output else (None, True)
    try:
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="etl-reviewed-"))
        elif root.exists() and any(root.iterdir()):
            raise OutputNotWritable(f"{root} is not empty; give --output a new folder for the version's files")
        root.mkdir(parents=True, exist_ok=True)
        reporter.info(f"copying the base dataset s3://{bucket}/{key_prefix(dataset_prefix)} to {root}")
        _download_base(s3, bucket, dataset_prefix, manifest, root, concurrency)
        _write_version(root, manifest, images, version)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write the version's files: {exc.strerror or exc}") from None
    try:
        result.load = load_dataset(root, bucket, prefix, client=s3, concurrency=concurrency, reporter=reporter)
        document = {
            "format": VERSION_FORMAT,
            "version": result.version,
            "created_at": (now or datetime.now(UTC)).isoformat(),
            "base": {"prefix": dataset_prefix.strip("/"), "manifest_sha256": base_sha},
            "previous_version": result.previous,
            "reviews_source": f"s3://{reviews_bucket}/{reviews_prefix.strip('/')}/",
            "reviews": listed,
            "added": result.added,
            "removed": result.removed,
            "skipped": [s.as_dict() for s in skips],
            "not_training_data": ignored,
            "counts": result.counts,
        }
        body = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
        try:
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{VERSION_FILE}", Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as error:
            raise LoadFailed(f"version {result.version} loaded, but {VERSION_FILE} not written: {error}") from None
    finally:
        if temporary and root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return result
