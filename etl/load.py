"""Load a dataset folder to `s3://bucket/prefix/`: concurrent, idempotent, manifest last.

An object is unchanged when its ETag is the MD5 of the local file (single-part uploads), or, for ETags that
are not MD5s (multipart, SSE-KMS), when the remote manifest records the same sha256 and the size matches.
Changed objects go up through boto3's transfer manager; objects under the split folders that the new
manifest does not list are deleted (a stale image in a channel would be trained on); the remote manifest
is removed before the first change and written after the last, so readers never see a half-loaded dataset.
Small objects go without `Expect: 100-continue`: botocore asks for it before every file body, one more round
trip per object, which pays off only when a body is big enough that sending it to a refusing server would
cost more than the wait.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import determine_content_length
from s3transfer.subscribers import BaseSubscriber

from etl import manifest as manifest_io
from etl.errors import BucketUnreachable, LoadFailed
from etl.progress import Reporter
from etl.split import SPLITS

DEFAULT_CONCURRENCY = 16
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_CONTENT_TYPES = {".png": "image/png", ".lst": "text/plain", ".json": "application/json"}
CONTINUE_MIN_BYTES = 1024 * 1024  # bodies from this size on still wait for S3's "100 Continue"


@dataclass
class LoadResult:
    bucket: str
    prefix: str
    uploaded: list[str] = field(default_factory=list)
    skipped: int = 0
    deleted: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    dry_run: bool = False

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def summary(self) -> str:
        verb = "would upload" if self.dry_run else "uploaded"
        if not self.uploaded and not self.deleted:
            nothing = "nothing to upload" if self.dry_run else "nothing uploaded"
            return f"{self.uri}: up to date, {nothing} ({self.skipped} objects unchanged)"
        deleted = f", {'would delete' if self.dry_run else 'deleted'} {len(self.deleted)} stale" if self.deleted else ""
        return (
            f"{self.uri}: {verb} {len(self.uploaded)} objects ({self.bytes_uploaded / 1e6:.1f} MB), "
            f"{self.skipped} unchanged{deleted}"
        )


def make_client(concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    """An S3 client with a connection per upload thread; AWS_ENDPOINT_URL (e.g. moto) is honoured by boto3."""
    config = Config(
        max_pool_connections=concurrency + 2,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client("s3", config=config)


def _send_small_bodies_at_once(request: Any, **_: Any) -> None:
    """botocore's `before-send` hook: drop `Expect: 100-continue` from requests with small bodies."""
    if "Expect" in request.headers:
        decoded = request.headers.get("X-Amz-Decoded-Content-Length")  # an aws-chunked body (HTTPS)
        length = int(decoded) if decoded is not None else determine_content_length(request.body)
        if length is not None and length < CONTINUE_MIN_BYTES:
            del request.headers["Expect"]


def key_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def check_bucket(client: Any, bucket: str) -> None:
    """Fail fast, before any work, when the bucket cannot be written to."""
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        reason = {"404": "does not exist", "NoSuchBucket": "does not exist", "403": "is not accessible (403)"}
        raise BucketUnreachable(f"bucket {bucket!r} {reason.get(code, f'answered {code}')}") from None
    except BotoCoreError as exc:
        raise BucketUnreachable(f"bucket {bucket!r} cannot be reached: {exc}") from None


def _remote_objects(client: Any, bucket: str, prefix: str) -> dict[str, tuple[str, int]]:
    objects: dict[str, tuple[str, int]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = (item["ETag"].strip('"'), item["Size"])
    return objects


def _remote_manifest_hashes(client: Any, bucket: str, key: str) -> dict[str, str]:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return {f.path: f.sha256 for f in manifest_io.dataset_files(json.loads(body))}
    except (ClientError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # no usable remote manifest: fall back to ETags alone


def _unchanged(remote: tuple[str, int] | None, path: Path, size: int, same_in_remote_manifest: bool) -> bool:
    """A single-part ETag is the object's MD5; other ETags (multipart, SSE-KMS) defer to the remote manifest."""
    if remote is None or remote[1] != size:
        return False
    etag = remote[0]
    if _MD5_ETAG.fullmatch(etag):
        return etag == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return same_in_remote_manifest


class _Counter(BaseSubscriber):
    def __init__(self, bar: Any, lock: threading.Lock) -> None:
        self._bar, self._lock = bar, lock

    def on_done(self, future: Any, **kwargs: Any) -> None:
        with self._lock:
            self._bar.update(1)


def load_dataset(
    root: Path,
    bucket: str,
    prefix: str = "",
    *,
    client: Any = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    prune: bool = True,
    reporter: Reporter | None = None,
) -> LoadResult:
    """Make `s3://bucket/prefix/` hold exactly the dataset in `root` (see the module docstring)."""
    reporter = reporter or Reporter(quiet=True)
    client = client or make_client(concurrency)
    client.meta.events.register("before-send.s3", _send_small_bodies_at_once, unique_id="etl.load.small-bodies")
    base = key_prefix(prefix)
    result = LoadResult(bucket, base, dry_run=dry_run)
    manifest_bytes = (root / manifest_io.MANIFEST_NAME).read_bytes()
    files = list(manifest_io.dataset_files(json.loads(manifest_bytes)))
    manifest_key = base + manifest_io.MANIFEST_NAME

    check_bucket(client, bucket)
    try:
        remote = _remote_objects(client, bucket, base)
        remote_hashes = _remote_manifest_hashes(client, bucket, manifest_key) if manifest_key in remote else {}
    except (ClientError, BotoCoreError) as exc:
        raise BucketUnreachable(f"cannot list s3://{bucket}/{base}: {exc}") from None

    changed: list[tuple[str, Path, str]] = []
    for item in files:
        key, path = base + item.path, root / item.path
        if _unchanged(remote.get(key), path, item.size, remote_hashes.get(item.path) == item.sha256):
            result.skipped += 1
        else:
            changed.append((key, path, item.sha256))
    wanted = {base + item.path for item in files}
    stale_roots = tuple(f"{base}{split}/" for split in SPLITS)
    stale = sorted(key for key in remote if key.startswith(stale_roots) and key not in wanted) if prune else []
    manifest_etag = remote.get(manifest_key, ("", -1))[0]
    if not changed and not stale and manifest_etag == hashlib.md5(manifest_bytes, usedforsecurity=False).hexdigest():
        result.skipped += 1
        return result

    # Any change goes between removing and rewriting the manifest, so the manifest counts as uploaded.
    result.uploaded = [key for key, _, _ in changed] + [manifest_key]
    result.bytes_uploaded = sum(path.stat().st_size for _, path, _ in changed) + len(manifest_bytes)
    result.deleted = stale
    if dry_run:
        for key in result.uploaded:
            reporter.info(f"would upload s3://{bucket}/{key}")
        for key in stale:
            reporter.info(f"would delete s3://{bucket}/{key}")
        return result

    try:
        if manifest_key in remote:
            client.delete_object(Bucket=bucket, Key=manifest_key)  # the dataset is incomplete until the end
        _upload_all(client, bucket, changed, concurrency, reporter)
        for start in range(0, len(stale), 1000):
            batch = [{"Key": key} for key in stale[start : start + 1000]]
            errors = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors")
            if errors:
                raise LoadFailed(f"could not delete {len(errors)} stale objects, manifest not written: {errors[0]}")
        client.put_object(
            Bucket=bucket,
            Key=manifest_key,
            Body=manifest_bytes,
            ContentType=_CONTENT_TYPES[".json"],
            Metadata={"sha256": hashlib.sha256(manifest_bytes).hexdigest()},
        )
    except (ClientError, BotoCoreError) as exc:
        raise LoadFailed(f"loading s3://{bucket}/{base} failed, manifest not written: {exc}") from None
    return result


def _upload_all(
    client: Any, bucket: str, changed: list[tuple[str, Path, str]], concurrency: int, reporter: Reporter
) -> None:
    if not changed:
        return
    config = TransferConfig(max_concurrency=concurrency, use_threads=True)
    lock = threading.Lock()
    failures: list[str] = []
    with (
        reporter.bar("upload", len(changed), unit="objects") as bar,
        create_transfer_manager(client, config) as manager,
    ):
        futures = [
            (
                key,
                manager.upload(
                    str(path),
                    bucket,
                    key,
                    extra_args={
                        "ContentType": _CONTENT_TYPES.get(path.suffix, "binary/octet-stream"),
                        "Metadata": {"sha256": sha},
                    },
                    subscribers=[_Counter(bar, lock)],
                ),
            )
            for key, path, sha in changed
        ]
        for key, future in futures:
            try:
                future.result()
            except (ClientError, BotoCoreError, OSError) as exc:
                failures.append(f"{key}: {exc}")
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise LoadFailed(f"{len(failures)} of {len(changed)} uploads failed, manifest not written: {failures[0]}{more}")
