"""python -m etl --source <URL or path> --output <dir> [--bucket B --prefix P] [options]
python -m etl --add-reviewed --bucket B --prefix P [--reviews-prefix reviews] [--reviews-bucket R] [--dry-run]

The second form writes the next dataset version (base + reviewed images) under P/versions/ (etl/reviewed.py).

Exit status 0 on success; otherwise one line `error: <ErrorName>: <message>` on stderr and the error's code
(2 arguments, 3 source, 4 archive content, 5 local output, 6 S3; see etl/errors.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from etl.errors import EtlError, InvalidArgument
from etl.load import DEFAULT_CONCURRENCY
from etl.pipeline import DEFAULT_CLASSES, DEFAULT_SEED, DEFAULT_VALIDATION_FRACTION, run
from etl.progress import Reporter
from etl.reviewed import DEFAULT_REVIEW_RECORDS_PREFIX, add_reviewed
from etl.s3_names import bucket_problem, prefix_problem
from etl.source import CACHE_ENV, DEFAULT_CACHE_DIR, OFFICIAL_URL


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {InvalidArgument.__name__}: {_one_line(message)} (see --help)", file=sys.stderr)
        raise SystemExit(InvalidArgument.exit_code)


def _one_line(text: str) -> str:
    """Control characters from argv escaped, so the error stays one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), got {text!r}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _path(text: str) -> str:
    """A path that can be opened, printed and recorded in the manifest: no NUL byte, valid UTF-8."""
    try:
        if "\0" in text:
            raise ValueError
        text.encode()  # bytes that are not UTF-8 reach argv as surrogates, which a UTF-8 stdout cannot print
    except (ValueError, UnicodeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable path (a NUL byte, or not UTF-8)") from None
    if text.startswith("~") and os.path.expanduser(text).startswith("~"):
        raise argparse.ArgumentTypeError(f"{text!r} starts with an unknown home directory")
    return text


def _output(text: str) -> str:
    """The dataset folder is swapped in by rename, so it must name a folder of its own, never `.` or `/`."""
    if Path(os.path.expanduser(_path(text))).name in ("", ".."):
        raise argparse.ArgumentTypeError(f"{text!r} does not name a folder of its own (e.g. data/cifar-bikes)")
    return text


def _bucket(text: str) -> str:
    if problem := bucket_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def _prefix(text: str) -> str:
    """Leading and trailing slashes are dropped (as load.key_prefix does); what is left must be plain segments."""
    if problem := prefix_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m etl",
        description="Extract CIFAR-100 classes into PNG training channels (+ .lst, manifest.json) and load them to S3.",
    )
    parser.add_argument(
        "--source", type=_path, default=OFFICIAL_URL, help="archive URL or local path (default: %(default)s)"
    )
    parser.add_argument(
        "--output",
        type=_output,
        help="local dataset folder; replaced atomically if it holds a dataset (required, except with --add-reviewed: "
        "an empty folder for the version's files, default a temporary one)",
    )
    parser.add_argument("--bucket", type=_bucket, help="S3 bucket to load the dataset into (omit for a local run)")
    parser.add_argument(
        "--prefix",
        type=_prefix,
        default="",
        help="key prefix in the bucket (needs --bucket), e.g. datasets/cifar-bikes",
    )
    parser.add_argument(
        "--classes",
        default=",".join(DEFAULT_CLASSES),
        help="comma-separated CIFAR-100 fine label names; labels 0..k-1 follow this order (default: %(default)s)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=_fraction,
        default=DEFAULT_VALIDATION_FRACTION,
        help="share of each class's train images held out for validation (default: %(default)s)",
    )
    parser.add_argument("--seed", type=_non_negative, default=DEFAULT_SEED, help="split seed (default: %(default)s)")
    parser.add_argument(
        "--checksum",
        help="expected md5:<hex> or sha256:<hex> of the archive (the official URL's published MD5 is built in)",
    )
    parser.add_argument(
        "--cache-dir", type=_path, help=f"download cache (default: ${CACHE_ENV} or {DEFAULT_CACHE_DIR})"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --bucket: list what would be uploaded/deleted, change nothing"
    )
    parser.add_argument(
        "--no-prune",
        dest="prune",
        action="store_false",
        help="keep objects under the split folders that the new manifest does not list",
    )
    parser.add_argument(
        "--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, help="parallel uploads (default: %(default)s)"
    )
    parser.add_argument(
        "--workers", type=_positive, help="threads writing the PNGs (default 1: more only contend for the GIL)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr; the summary still goes to stdout")
    reviewed = parser.add_argument_group("reviewed labels (python -m etl --add-reviewed --bucket B --prefix P)")
    reviewed.add_argument(
        "--add-reviewed",
        action="store_true",
        help="write the next dataset version under P/versions/: the dataset at P plus every reviewed vehicle photo "
        "in its train split (none if the newest version already holds them)",
    )
    reviewed.add_argument(
        "--reviews-prefix",
        type=_prefix,
        default=DEFAULT_REVIEW_RECORDS_PREFIX,
        help="where the review console stores its review records (default: %(default)s)",
    )
    reviewed.add_argument("--reviews-bucket", type=_bucket, help="bucket of the review records (default: --bucket)")
    return parser


def _missing_parents(output: str) -> list[Path]:
    """The folders above `output` that a run would create, deepest first."""
    missing: list[Path] = []
    parent = Path(os.path.expanduser(output)).absolute().parent
    try:
        while not parent.exists() and parent != parent.parent:
            missing.append(parent)
            parent = parent.parent
    except OSError:  # unreadable: the run reports it as OutputNotWritable
        return []
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """A refused run leaves no trace: remove the (still empty) parent folders it created."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed as one line
        return int(exit_.code or 0)
    if args.add_reviewed:
        return _add_reviewed(args)
    args_error = None
    if not args.output:
        args_error = "the following arguments are required: --output (see --help)"
    elif args.dry_run and not args.bucket:
        args_error = "--dry-run needs --bucket (it shows what would be uploaded)"
    elif args.prefix.strip("/") and not args.bucket:
        args_error = "--prefix needs --bucket (it is the key prefix in the bucket)"
    if args_error:
        print(f"error: {InvalidArgument.__name__}: {args_error}", file=sys.stderr)
        return InvalidArgument.exit_code
    reporter = Reporter(quiet=args.quiet)
    created = _missing_parents(args.output)
    try:
        result = run(
            args.source,
            args.output,
            bucket=args.bucket,
            prefix=args.prefix,
            classes=args.classes,
            validation_fraction=args.validation_fraction,
            seed=args.seed,
            checksum=args.checksum,
            cache_dir=args.cache_dir,
            dry_run=args.dry_run,
            prune=args.prune,
            concurrency=args.concurrency,
            workers=args.workers,
            reporter=reporter,
        )
    except EtlError as exc:
        _remove_empty(created)
        print(f"error: {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _remove_empty(created)
        print("error: Interrupted: stopped before completion; no partial dataset was published", file=sys.stderr)
        return 130
    print(result.summary())
    if result.load:
        print(result.load.summary())
    return 0


def _add_reviewed(args: argparse.Namespace) -> int:
    if not args.bucket or not args.prefix.strip("/"):
        print(
            f"error: {InvalidArgument.__name__}: --add-reviewed needs --bucket and --prefix (the base dataset in S3)",
            file=sys.stderr,
        )
        return InvalidArgument.exit_code
    reporter = Reporter(quiet=args.quiet)
    try:
        result = add_reviewed(
            args.bucket,
            args.prefix,
            reviews_bucket=args.reviews_bucket,
            reviews_prefix=args.reviews_prefix,
            output=args.output,
            dry_run=args.dry_run,
            concurrency=args.concurrency,
            reporter=reporter,
        )
    except EtlError as exc:
        print(f"error: {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    for skip in result.skipped:
        reporter.info(f"skipped review {skip.review_id}: {skip.reason}: {_one_line(skip.detail)}")
    print(result.summary())
    if result.load:
        print(result.load.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
