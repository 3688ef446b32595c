"""Loading to S3 (moto): everything once, nothing twice, manifest last, stale objects removed; an interrupted
load publishes no manifest and a re-run finishes it."""

from __future__ import annotations

import hashlib
import io
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

import etl
from etl.__main__ import main
from etl.load import CONTINUE_MIN_BYTES, load_dataset, make_client
from etl.progress import Reporter
from tests.etl.etl_testdata import s3_keys
from training.launch import LaunchError, read_manifest

MakeArchive = Callable[..., Path]


def _local_keys(root: Path, prefix: str) -> set[str]:
    return {f"{prefix}/{p.relative_to(root).as_posix()}" for p in root.rglob("*") if p.is_file()}


def _record_calls(client: Any) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        calls.append((model.name, params.get("Key", "")))

    client.meta.events.register("before-parameter-build.s3.*", record)
    return calls


@pytest.fixture
def small_dataset(make_archive: MakeArchive, tmp_path: Path) -> Path:
    return etl.run(str(make_archive()), tmp_path / "small").output


def test_the_shared_dataset_loads_once_then_uploads_nothing(
    s3: Any, dataset: etl.EtlResult, shared_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = load_dataset(dataset.output, "datasets", "cifar/bikes/", client=s3)
    assert len(first.uploaded) == 1000 + 3 + 1
    assert first.skipped == 0
    assert s3_keys(s3) == _local_keys(dataset.output, "cifar/bikes")

    name, entry = next(iter(dataset.manifest["splits"]["test"]["files"].items()))
    head = s3.head_object(Bucket="datasets", Key=f"cifar/bikes/test/{name}")
    assert head["Metadata"] == {"sha256": entry["sha256"]}
    assert head["ContentType"] == "image/png"

    calls = _record_calls(s3)
    again = etl.run(str(shared_archive), tmp_path / "again", bucket="datasets", prefix="cifar/bikes", s3_client=s3)
    assert again.uploaded == 0
    assert again.skipped == 1004
    assert not [call for call in calls if call[0] in ("PutObject", "DeleteObject", "DeleteObjects")]

    argv = ["--source", str(shared_archive), "--output", str(tmp_path / "cli"), "--bucket", "datasets"]
    assert main([*argv, "--prefix", "cifar/bikes", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "s3://datasets/cifar/bikes/: up to date, nothing uploaded (1004 objects unchanged)"
    )


def test_the_manifest_is_written_last_and_removed_first(
    s3: Any, small_dataset: Path, make_archive: MakeArchive, tmp_path: Path
) -> None:
    calls = _record_calls(s3)
    load_dataset(small_dataset, "datasets", "ds", client=s3)
    puts = [key for name, key in calls if name == "PutObject"]
    assert puts[-1] == "ds/manifest.json"
    assert puts.count("ds/manifest.json") == 1

    calls.clear()
    other = etl.run(str(make_archive()), tmp_path / "other", seed=3).output
    load_dataset(other, "datasets", "ds", client=s3)
    changes = [(name, key) for name, key in calls if name in ("PutObject", "DeleteObject", "DeleteObjects")]
    assert changes[0] == ("DeleteObject", "ds/manifest.json")
    assert changes[-1] == ("PutObject", "ds/manifest.json")


def test_a_new_split_replaces_changed_objects_and_deletes_stale_ones(
    s3: Any, small_dataset: Path, make_archive: MakeArchive, tmp_path: Path
) -> None:
    load_dataset(small_dataset, "datasets", "ds", client=s3)
    other = etl.run(str(make_archive()), tmp_path / "other", seed=3).output
    result = load_dataset(other, "datasets", "ds", client=s3)
    assert s3_keys(s3) == _local_keys(other, "ds")
    assert result.deleted  # images that moved between train and validation
    moved = {key.split("/", 2)[2] for key in result.deleted}
    assert all(f"ds/{split}/{name}" in result.uploaded for name in moved for split in ("train", "validation")
               if (other / split / name).exists())  # fmt: skip
    assert "ds/test/test.lst" not in result.uploaded  # the test split did not change


def test_an_object_changed_in_s3_is_uploaded_again(s3: Any, small_dataset: Path) -> None:
    load_dataset(small_dataset, "datasets", "ds", client=s3)
    s3.put_object(Bucket="datasets", Key="ds/train/train.lst", Body=b"0\t0\tsomething-else.png\n")
    result = load_dataset(small_dataset, "datasets", "ds", client=s3)
    assert result.uploaded == ["ds/train/train.lst", "ds/manifest.json"]
    body = s3.get_object(Bucket="datasets", Key="ds/train/train.lst")["Body"].read()
    assert body == (small_dataset / "train" / "train.lst").read_bytes()


def test_small_objects_go_without_waiting_for_100_continue(s3: Any, small_dataset: Path) -> None:
    """Waiting for "100 Continue" is one more round trip per object: as long again as a small PUT itself."""
    sent: list[tuple[str, bool]] = []

    def record(request: Any, **kwargs: Any) -> None:
        if request.method == "PUT" and "?" not in request.url:
            sent.append((request.url.rsplit("/", 1)[-1], "Expect" in request.headers))

    s3.meta.events.register_last("before-send.s3", record)
    result = load_dataset(small_dataset, "datasets", "ds", client=s3)
    assert len(sent) == len(result.uploaded)
    assert [name for name, expect in sent if expect] == []

    sent.clear()  # a big body still asks first, so a refused request does not send it all
    s3.upload_fileobj(io.BytesIO(bytes(CONTINUE_MIN_BYTES)), "datasets", "big.bin")
    assert sent == [("big.bin", True)]


def test_dry_run_lists_what_would_change_and_changes_nothing(s3: Any, small_dataset: Path) -> None:
    stream = io.StringIO()
    result = load_dataset(small_dataset, "datasets", "ds", client=s3, dry_run=True, reporter=Reporter(stream))
    assert set(result.uploaded) == _local_keys(small_dataset, "ds")
    assert s3_keys(s3) == set()
    lines = stream.getvalue().splitlines()
    assert f"would upload s3://datasets/ds/{etl.MANIFEST_NAME}" in lines
    assert len(lines) == len(result.uploaded)
    assert result.summary().startswith("s3://datasets/ds/: would upload 30 objects")


def test_a_failed_upload_leaves_no_manifest(s3: Any, small_dataset: Path) -> None:
    def fail_one(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("Key", "").endswith("train.lst"):
            raise EndpointConnectionError(endpoint_url="http://s3.test")

    s3.meta.events.register("before-parameter-build.s3.PutObject", fail_one)
    with pytest.raises(etl.LoadFailed, match="1 of 29 uploads failed, manifest not written"):
        load_dataset(small_dataset, "datasets", "ds", client=s3)
    assert "ds/manifest.json" not in s3_keys(s3)


def test_a_missing_bucket_fails_before_any_work(s3: Any, make_archive: MakeArchive, tmp_path: Path) -> None:
    with pytest.raises(etl.BucketUnreachable, match="'no-such-bucket' does not exist"):
        etl.run(str(make_archive()), tmp_path / "out", bucket="no-such-bucket", s3_client=s3)
    assert not (tmp_path / "out").exists()


def test_an_endpoint_that_does_not_answer_is_unreachable(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(etl.BucketUnreachable, match="cannot be reached"):
        load_dataset(small_dataset, "datasets", "ds", client=make_client())


def test_uploaded_bytes_match_the_manifest(s3: Any, small_dataset: Path) -> None:
    load_dataset(small_dataset, "datasets", "", client=s3)
    manifest = etl.manifest.read(small_dataset)
    for name, entry in manifest["splits"]["validation"]["files"].items():
        body = s3.get_object(Bucket="datasets", Key=f"validation/{name}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]


# -- re-running against the same bucket and prefix ------------------------------------------------------------------
def _check_bucket_holds_exactly(s3: Any, root: Path, prefix: str) -> None:
    """What a training job sees (every object under a split's folder) is what the manifest lists, byte for byte."""
    manifest = json.loads((root / etl.MANIFEST_NAME).read_bytes())
    remote = s3.get_object(Bucket="datasets", Key=f"{prefix}/{etl.MANIFEST_NAME}")["Body"].read()
    assert remote == (root / etl.MANIFEST_NAME).read_bytes()
    listed = {f"{prefix}/{file.path}": file.sha256 for file in etl.manifest.dataset_files(manifest)}
    assert s3_keys(s3, prefix=f"{prefix}/") == set(listed) | {f"{prefix}/{etl.MANIFEST_NAME}"}
    for key, sha256 in listed.items():
        assert hashlib.sha256(s3.get_object(Bucket="datasets", Key=key)["Body"].read()).hexdigest() == sha256


def test_a_rerun_with_other_classes_and_fraction_leaves_exactly_the_new_dataset(
    s3: Any, make_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = str(make_archive())
    etl.run(archive, tmp_path / "first", bucket="datasets", prefix="ds", s3_client=s3)
    first_keys = s3_keys(s3)

    second = etl.run(
        archive,
        tmp_path / "second",
        bucket="datasets",
        prefix="ds",
        classes="motorcycle,class_0",
        validation_fraction=0.3,
        seed=5,
        s3_client=s3,
    )

    _check_bucket_holds_exactly(s3, second.output, "ds")
    assert second.load is not None
    assert set(second.load.deleted) == first_keys - s3_keys(s3)  # every bicycle image, and those that moved
    bicycles = {
        f"ds/{split}/{name}"
        for split, entry in etl.manifest.read(tmp_path / "first")["splits"].items()
        for name, file in entry["files"].items()
        if file["class"] == "bicycle"
    }
    assert bicycles <= set(second.load.deleted)  # a class no longer asked for leaves no image behind
    train_lst = s3.get_object(Bucket="datasets", Key="ds/train/train.lst")["Body"].read().decode()
    assert train_lst == (second.output / "train" / "train.lst").read_text()  # motorcycle is label 0 now


def _interrupt(s3: Any, operation: str, after: int) -> list[str]:
    """Let `after` calls of `operation` through, then fail every further one as a dropped connection would."""
    passed: list[str] = []

    def maybe_fail(params: dict[str, Any], **kwargs: Any) -> None:
        if len(passed) >= after:
            raise EndpointConnectionError(endpoint_url="http://s3.test")
        passed.append(params.get("Key", ""))

    s3.meta.events.register(f"before-parameter-build.s3.{operation}", maybe_fail)
    return passed


@pytest.mark.parametrize(("operation", "after"), [("PutObject", 5), ("DeleteObjects", 0)])
def test_an_interrupted_reload_publishes_no_manifest_and_a_rerun_finishes_it(
    s3: Any, make_archive: MakeArchive, tmp_path: Path, operation: str, after: int
) -> None:
    archive = str(make_archive())
    first = etl.run(archive, tmp_path / "first", bucket="datasets", prefix="ds", s3_client=s3).output
    second = etl.run(archive, tmp_path / "second", validation_fraction=0.3, seed=5).output
    interrupted = make_client()
    uploaded_before_failure = _interrupt(interrupted, operation, after)

    with pytest.raises(etl.LoadFailed, match="manifest not written"):
        load_dataset(second, "datasets", "ds", client=interrupted, concurrency=1)

    # Half old, half new objects, and no manifest: a reader refuses the dataset instead of training on a mix.
    assert f"ds/{etl.MANIFEST_NAME}" not in s3_keys(s3)
    with pytest.raises(LaunchError, match="run the ETL first"):
        read_manifest(s3, "datasets", "ds")
    assert s3_keys(s3) != _local_keys(first, "ds")

    calls = _record_calls(s3)
    result = load_dataset(second, "datasets", "ds", client=s3)

    _check_bucket_holds_exactly(s3, second, "ds")
    puts = [key for name, key in calls if name == "PutObject"]
    assert len(puts) == len(set(puts)) == len(result.uploaded)
    if operation == "PutObject":
        assert len(uploaded_before_failure) == after
        assert not set(puts) & set(uploaded_before_failure)  # what arrived the first time is not sent again
