"""Dataset versions: the base dataset plus reviewed images, each a complete dataset of its own in S3.

    s3://<bucket>/<dataset prefix>/manifest.json, train/, validation/, test/      the base (`python -m etl`)
    s3://<bucket>/<dataset prefix>/versions/v<N>/manifest.json, train/, ...      version N (`--add-reviewed`)
    s3://<bucket>/<dataset prefix>/versions/v<N>/version.json                    written last: N is complete

A version is a whole dataset prefix, because the training channels are S3Prefix data sources (one prefix per
channel; the launcher and the state machine need nothing new to train on it). Its validation and test splits are
the base's, byte for byte; its train split is the base's plus the reviewed images. `python -m training.launch
--dataset-version vN|latest` trains on one; without the option the launcher reads the base, as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

VERSIONS_FOLDER = "versions"
VERSION_FILE = "version.json"
VERSION_FORMAT = "courier-vehicle/dataset-version/1"
LATEST = "latest"
_VERSION_NAME = re.compile(r"v([1-9][0-9]{0,8})")


class DatasetVersionNotFound(LookupError):
    """The asked-for version (or, for `latest`, any version) has no complete version.json under the dataset."""


@dataclass(frozen=True)
class DatasetVersion:
    name: str
    prefix: str  # the version's dataset prefix, no trailing slash
    document: dict[str, Any]

    @property
    def number(self) -> int:
        return version_number(self.name) or 0


def version_number(name: str) -> int | None:
    match = _VERSION_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def version_name(number: int) -> str:
    return f"v{number}"


def versions_root(dataset_prefix: str) -> str:
    """`<dataset prefix>/versions/`, the folder every version of the dataset lies in."""
    base = dataset_prefix.strip("/")
    return f"{base}/{VERSIONS_FOLDER}/" if base else f"{VERSIONS_FOLDER}/"


def version_prefix(dataset_prefix: str, name: str) -> str:
    return versions_root(dataset_prefix) + name


def _read_version(s3: Any, bucket: str, prefix: str) -> dict[str, Any] | None:
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/{VERSION_FILE}")["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None  # an unfinished version: its load stopped before version.json
        raise
    except ValueError:
        return None
    return document if isinstance(document, dict) and document.get("format") == VERSION_FORMAT else None


def list_versions(s3: Any, bucket: str, dataset_prefix: str) -> list[DatasetVersion]:
    """The dataset's complete versions, oldest first (folders without a version.json are unfinished)."""
    root = versions_root(dataset_prefix)
    names: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(root) :].strip("/")
            if version_number(name) is not None:
                names.append(name)
    versions = []
    for name in sorted(names, key=lambda n: version_number(n) or 0):
        prefix = root + name
        document = _read_version(s3, bucket, prefix)
        if document is not None:
            versions.append(DatasetVersion(name, prefix, document))
    return versions


def resolve_version(s3: Any, bucket: str, dataset_prefix: str, wanted: str) -> DatasetVersion:
    """`vN` or `latest` -> the complete version; DatasetVersionNotFound names the versions there are."""
    if wanted != LATEST and version_number(wanted) is None:
        raise DatasetVersionNotFound(f"{wanted!r} is not a dataset version name (v1, v2, ... or {LATEST})")
    try:
        versions = list_versions(s3, bucket, dataset_prefix)
    except (ClientError, BotoCoreError) as error:
        raise DatasetVersionNotFound(
            f"cannot list the versions under s3://{bucket}/{versions_root(dataset_prefix)}: {error}"
        ) from None
    where = f"s3://{bucket}/{versions_root(dataset_prefix)}"
    known = ", ".join(v.name for v in versions) or "none"
    if wanted == LATEST:
        if not versions:
            raise DatasetVersionNotFound(
                f"{where} holds no complete dataset version; build one with `python -m etl --add-reviewed`"
            )
        return versions[-1]
    for version in versions:
        if version.name == wanted:
            return version
    raise DatasetVersionNotFound(f"dataset version {wanted} is not under {where} (complete versions: {known})")
