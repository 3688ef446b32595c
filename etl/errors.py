"""Named ETL failures: the CLI prints `error: <ClassName>: <message>` and exits with the class's code.

Exit codes group the failures by what the user has to fix:
2 arguments, 3 source (download, checksum), 4 archive content, 5 local output, 6 S3.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every failure the ETL reports on purpose (anything else is a bug)."""

    exit_code = 1


class InvalidArgument(EtlError):
    exit_code = 2


class UnknownClass(InvalidArgument):
    """A `--classes` name that the archive's `meta` does not list."""


class SourceUnavailable(EtlError):
    """The archive cannot be read or downloaded (missing file, HTTP error, network down)."""

    exit_code = 3


class ChecksumMismatch(EtlError):
    exit_code = 3


class CorruptArchive(EtlError):
    """Not a readable gzip/tar stream: truncated, damaged or not an archive at all."""

    exit_code = 4


class MissingMember(EtlError):
    """The tar lacks one of the pickles `meta`, `train`, `test`."""

    exit_code = 4


class InvalidPickle(EtlError):
    """A pickle that does not have the CIFAR-100 shape (keys, lengths, dtype) or refers to foreign code."""

    exit_code = 4


class OutputNotWritable(EtlError):
    exit_code = 5


class BucketUnreachable(EtlError):
    """The bucket does not exist, is not ours to write, or the endpoint does not answer."""

    exit_code = 6


class LoadFailed(EtlError):
    """One or more uploads failed after boto3's retries; the remote manifest was not written."""

    exit_code = 6


class DatasetMissing(EtlError):
    """`--add-reviewed`: the base dataset's manifest or one of its files cannot be read, or does not match."""

    exit_code = 6


class ReviewsUnreadable(EtlError):
    """`--add-reviewed`: the review-records prefix cannot be listed or a record fetched."""

    exit_code = 6
