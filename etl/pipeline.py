"""`run()`: source -> archive -> split plan -> PNG folders + manifest (staged, then renamed) -> S3."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl import manifest as manifest_io
from etl.archive import read_archive
from etl.errors import CorruptArchive, InvalidArgument, InvalidPickle, MissingMember, OutputNotWritable
from etl.load import DEFAULT_CONCURRENCY, LoadResult, check_bucket, load_dataset, make_client
from etl.progress import Reporter
from etl.slots import CIFAR100_IMAGES_PER_CLASS, FileSlots
from etl.source import Checksum, resolve
from etl.split import parse_classes, plan_dataset
from etl.transform import gather_images, write_dataset

DEFAULT_CLASSES = ("bicycle", "motorcycle")
DEFAULT_VALIDATION_FRACTION = 0.1
DEFAULT_SEED = 42


@dataclass
class EtlResult:
    output: Path
    manifest: dict[str, Any]
    load: LoadResult | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split and class, e.g. {"train": {"bicycle": 360, "motorcycle": 360}, ...}."""
        return {name: dict(split["per_class"]) for name, split in self.manifest["splits"].items()}

    @property
    def uploaded(self) -> int:
        return len(self.load.uploaded) if self.load else 0

    @property
    def skipped(self) -> int:
        return self.load.skipped if self.load else 0

    def summary(self) -> str:
        parts = []
        for name, per_class in self.counts.items():
            detail = ", ".join(f"{cls} {count}" for cls, count in per_class.items())
            parts.append(f"{name} {sum(per_class.values())} ({detail})")
        return f"wrote {self.output}: " + "; ".join(parts)


def _staging_dir(output: Path) -> Path:
    """A fresh folder beside `output`, after checking that `output` may be replaced."""
    try:
        if output.exists() or output.is_symlink():
            if not output.is_dir():
                raise OutputNotWritable(f"{output} exists and is not a directory")
            if any(output.iterdir()) and not _is_etl_output(output):
                raise OutputNotWritable(f"{output} is not empty and holds no ETL dataset; refusing to replace it")
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
        staging.chmod(0o755)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write {output}: {exc.strerror or exc}") from None
    return staging


def _is_etl_output(folder: Path) -> bool:
    try:
        return str(manifest_io.read(folder).get("format", "")).startswith(manifest_io.FORMAT.rsplit("/", 1)[0])
    except (OSError, ValueError, AttributeError):
        return False


def _publish(staging: Path, output: Path) -> None:
    """Swap the finished folder in; a previous dataset is renamed away first and removed after."""
    previous = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.old") if output.exists() else None
    try:
        if previous:
            os.replace(output, previous)
        os.replace(staging, output)
    except OSError as exc:
        if previous and previous.exists() and not output.exists():
            os.replace(previous, output)  # put the old dataset back
        raise OutputNotWritable(f"cannot move the dataset into {output}: {exc.strerror or exc}") from None
    if previous:
        shutil.rmtree(previous, ignore_errors=True)


def run(
    source: str,
    output: str | Path,
    *,
    bucket: str | None = None,
    prefix: str = "",
    classes: str | Sequence[str] = DEFAULT_CLASSES,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    seed: int = DEFAULT_SEED,
    checksum: str | Checksum | None = None,
    cache_dir: str | Path | None = None,
    dry_run: bool = False,
    prune: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    workers: int | None = None,
    s3_client: Any = None,
    reporter: Reporter | None = None,
) -> EtlResult:
    """Build the dataset folder at `output` from `source`, then (with `bucket`) load it to S3."""
    reporter = reporter or Reporter(quiet=True)
    class_names = parse_classes(classes)
    if not 0 < validation_fraction < 1:
        raise InvalidArgument(f"validation fraction must be between 0 and 1, got {validation_fraction}")
    if seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed}")
    if concurrency < 1:
        raise InvalidArgument(f"concurrency must be at least 1, got {concurrency}")
    if isinstance(checksum, str):
        checksum = Checksum.parse(checksum)
    output = Path(output).expanduser().absolute()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage], clock = now - clock, now

    if bucket:
        s3_client = s3_client or make_client(concurrency)
        check_bucket(s3_client, bucket)
    staging = _staging_dir(output)
    slots = FileSlots(staging, len(class_names) * CIFAR100_IMAGES_PER_CLASS)
    try:
        resolved = resolve(
            source, cache_dir=Path(cache_dir) if cache_dir else None, checksum=checksum, reporter=reporter
        )
        lap("source")
        size = resolved.path.stat().st_size
        try:
            with reporter.bar(f"read {resolved.path.name}", size) as bar:
                archive, digests = read_archive(
                    resolved.path, digest_algorithms=resolved.missing_digests(), on_read=bar.update
                )
        except (CorruptArchive, InvalidPickle, MissingMember):
            resolved.verify_whole_file()
            raise
        slots.stop()
        resolved.verify(digests)
        lap("extract")

        plan = plan_dataset(archive, class_names, validation_fraction, seed)
        images = gather_images(archive, plan)
        # The kept rows are copied out: the inflated archive (186 MB for the official one) can go. Unmapping
        # it takes a while, so the last reference is dropped on another thread, while the PNGs are written.
        holder = [archive]
        del archive
        freeing = threading.Thread(target=holder.clear, name="etl-free", daemon=True)
        freeing.start()
        try:
            written = write_dataset(staging, images, plan, workers=workers, reporter=reporter, slots=slots)
            slots.close()
            manifest = manifest_io.build_manifest(
                source_uri=source,
                source_sha256=resolved.digests["sha256"],
                plan=plan,
                written=written,
                seed=seed,
                validation_fraction=validation_fraction,
            )
            (staging / manifest_io.MANIFEST_NAME).write_bytes(manifest_io.dumps(manifest))  # last: marks it complete
        except OSError as exc:
            raise OutputNotWritable(f"cannot write {output}: {exc.strerror or exc}") from None
        _publish(staging, output)
        freeing.join()
        lap("transform")
    finally:
        slots.close()
        shutil.rmtree(staging, ignore_errors=True)

    result = EtlResult(output, manifest, timings=timings)
    if bucket:
        result.load = load_dataset(
            output,
            bucket,
            prefix,
            client=s3_client,
            concurrency=concurrency,
            dry_run=dry_run,
            prune=prune,
            reporter=reporter,
        )
        lap("load")
    return result
