"""CIFAR-100 -> courier vehicle dataset: `python -m etl` or `etl.run(source, output, bucket=..., prefix=...)`.

Extracts the chosen classes from the CIFAR-100 python archive, writes one PNG per image into
`train/`, `validation/`, `test/` (each with its `.lst`), records everything in `manifest.json`, and loads
the folder to S3 idempotently. See `etl/__main__.py` for the command line.
"""

from etl.errors import (
    BucketUnreachable,
    ChecksumMismatch,
    CorruptArchive,
    EtlError,
    InvalidArgument,
    InvalidPickle,
    LoadFailed,
    MissingMember,
    OutputNotWritable,
    SourceUnavailable,
    UnknownClass,
)
from etl.load import LoadResult, load_dataset
from etl.manifest import MANIFEST_NAME
from etl.pipeline import DEFAULT_CLASSES, DEFAULT_SEED, DEFAULT_VALIDATION_FRACTION, EtlResult, run
from etl.source import OFFICIAL_URL

__all__ = [
    "DEFAULT_CLASSES",
    "DEFAULT_SEED",
    "DEFAULT_VALIDATION_FRACTION",
    "MANIFEST_NAME",
    "OFFICIAL_URL",
    "BucketUnreachable",
    "ChecksumMismatch",
    "CorruptArchive",
    "EtlError",
    "EtlResult",
    "InvalidArgument",
    "InvalidPickle",
    "LoadFailed",
    "LoadResult",
    "MissingMember",
    "OutputNotWritable",
    "SourceUnavailable",
    "UnknownClass",
    "load_dataset",
    "run",
]
