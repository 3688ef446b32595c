"""`python -m etl --add-reviewed`: reviewed photos join the next dataset version's train split (moto in-process).

The base dataset is the ETL's own run of a small synthetic archive, loaded to moto; the photos are synthetic
JPEGs/PNGs in an upload bucket; the review records are shared.reviews.ReviewRecord objects where the review
console stores them.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from shared.reviews import ReviewRecord, review_record_key

import etl
from etl.__main__ import main
from etl.reviewed import add_reviewed
from etl.versions import list_versions
from tests.etl.etl_testdata import s3_keys

BUCKET = "datasets"
PREFIX = "datasets/cifar-bikes"
UPLOADS = "uploads"
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def base(s3: Any, make_archive: Any, tmp_path: Path) -> dict[str, Any]:
    """The base dataset in S3 and an upload bucket for the reviewed photos."""
    result = etl.run(str(make_archive()), tmp_path / "base", bucket=BUCKET, prefix=PREFIX, s3_client=s3)
    s3.create_bucket(Bucket=UPLOADS, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return result.manifest


def photo(seed: int, size: tuple[int, int] = (640, 480), kind: str = "JPEG") -> bytes:
    """A synthetic phone photo: smooth colour gradients (JPEG keeps them recognisable) plus noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.integers(0, 256, 3)[None, None, :]
    pixels = np.clip(ramp + rng.integers(0, 60, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


def review(
    s3: Any,
    review_id: str,
    label: str,
    image_key: str,
    body: bytes | None,
    *,
    minutes: int = 0,
    probe: bool = False,
    decision_key: str | None = None,
) -> ReviewRecord:
    """Upload the photo (unless None: it is gone) and store the decided review as the review console does."""
    if body is not None:
        s3.put_object(Bucket=UPLOADS, Key=image_key, Body=body)
    record = ReviewRecord(
        review_id=review_id,
        decision_key=decision_key or f"inference-{review_id}",
        image={"s3_bucket": UPLOADS, "s3_key": image_key},
        label=label,
        route={"bicycle": "nearby", "motorcycle": "distant"}.get(label, "retake_photo"),
        reason="BelowConfidenceThreshold",
        reviewer="alice",
        decided_at=T0 + timedelta(minutes=minutes),
        probe=probe,
    )
    s3.put_object(Bucket=BUCKET, Key=review_record_key("reviews", record), Body=record.model_dump_json())
    return record


def read_json(s3: Any, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def read_lines(s3: Any, key: str) -> list[list[str]]:
    return [line.split("\t") for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()]


def test_reviewed_vehicle_photos_join_the_train_split_and_nothing_else(s3, base) -> None:
    review(s3, "r-bike", "bicycle", "uploads/a.jpg", photo(1))
    review(s3, "r-moto", "motorcycle", "uploads/b.png", photo(2, (50, 90), "PNG"), minutes=1)
    review(s3, "r-neither", "neither", "uploads/c.jpg", photo(3), minutes=2)
    review(s3, "r-probe", "bicycle", "probes/bicycle.png", photo(4, kind="PNG"), minutes=3, probe=True)

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3, now=T0)

    assert result.version == "v1"
    version = f"{PREFIX}/versions/v1"
    manifest = read_json(s3, f"{version}/manifest.json")
    train, base_train = manifest["splits"]["train"], base["splits"]["train"]
    assert train["count"] == base_train["count"] + 2
    assert train["per_class"] == {
        "bicycle": base_train["per_class"]["bicycle"] + 1,
        "motorcycle": base_train["per_class"]["motorcycle"] + 1,
    }
    # validation and test are the base's, file for file: versions are compared on the same images
    for split in ("validation", "test"):
        assert manifest["splits"][split] == base["splits"][split]
        assert {k.removeprefix(version) for k in s3_keys(s3, prefix=f"{version}/{split}/")} == {
            k.removeprefix(PREFIX) for k in s3_keys(s3, prefix=f"{PREFIX}/{split}/")
        }
    # train.lst: the base's lines, then one per reviewed photo with its class's label
    lines = read_lines(s3, f"{version}/train/train.lst")
    assert lines[: base_train["count"]] == read_lines(s3, f"{PREFIX}/train/train.lst")
    assert lines[base_train["count"] :] == [
        [str(base_train["count"]), "0", "reviewed-r-bike.png"],
        [str(base_train["count"] + 1), "1", "reviewed-r-moto.png"],
    ]
    for name in ("reviewed-r-bike.png", "reviewed-r-moto.png"):
        png = s3.get_object(Bucket=BUCKET, Key=f"{version}/train/{name}")["Body"].read()
        assert Image.open(io.BytesIO(png)).size == (32, 32)
        assert hashlib.sha256(png).hexdigest() == train["files"][name]["sha256"]

    document = read_json(s3, f"{version}/version.json")
    base_sha = hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")["Body"].read())
    assert document["base"] == {"prefix": PREFIX, "manifest_sha256": base_sha.hexdigest()}
    assert [r["review_id"] for r in document["reviews"]] == ["r-bike", "r-moto"]
    assert document["added"] == ["r-bike", "r-moto"]
    assert document["not_training_data"] == {"neither": 1, "probe": 1, "superseded": 0}
    assert document["counts"]["train"] == train["per_class"]
    assert [v.name for v in list_versions(s3, BUCKET, PREFIX)] == ["v1"]


def test_the_training_code_reads_a_reviewed_png_as_it_would_read_the_photo(s3, base) -> None:
    """Train/serve parity: the stored 32 x 32 PNG is what preprocessing.py makes of the original photo."""
    preprocessing = pytest.importorskip("training.sourcedir.preprocessing")
    original = photo(7, (801, 533))
    review(s3, "r-parity", "bicycle", "uploads/p.jpg", original)
    add_reviewed(BUCKET, PREFIX, s3_client=s3)
    png = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/versions/v1/train/reviewed-r-parity.png")["Body"].read()
    np.testing.assert_array_equal(preprocessing.bytes_to_array(png), preprocessing.bytes_to_array(original))


def test_a_rerun_without_new_reviews_makes_no_version_and_says_so(s3, base) -> None:
    review(s3, "r-1", "bicycle", "uploads/1.jpg", photo(1))
    assert add_reviewed(BUCKET, PREFIX, s3_client=s3).version == "v1"
    keys = s3_keys(s3)

    again = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert again.up_to_date
    assert again.summary().startswith("up to date: v1 already holds the 1 reviewed images, no new version")
    assert s3_keys(s3) == keys


def test_no_reviews_at_all_makes_no_version(s3, base) -> None:
    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)
    assert result.up_to_date
    assert s3_keys(s3, prefix=f"{PREFIX}/versions/") == set()


def test_a_new_review_makes_the_next_version_holding_every_label(s3, base) -> None:
    review(s3, "r-1", "bicycle", "uploads/1.jpg", photo(1))
    add_reviewed(BUCKET, PREFIX, s3_client=s3)
    review(s3, "r-2", "motorcycle", "uploads/2.jpg", photo(2), minutes=70)  # the next hour's folder

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert (result.version, result.previous, result.added) == ("v2", "v1", ["r-2"])
    document = read_json(s3, f"{PREFIX}/versions/v2/version.json")
    assert [r["review_id"] for r in document["reviews"]] == ["r-1", "r-2"]
    assert document["previous_version"] == "v1"
    assert read_json(s3, f"{PREFIX}/versions/v2/manifest.json")["splits"]["train"]["count"] == (
        base["splits"]["train"]["count"] + 2
    )


def test_a_later_review_of_the_same_image_replaces_the_earlier_label(s3, base) -> None:
    review(s3, "r-first", "bicycle", "uploads/1.jpg", photo(1), decision_key="inference-1")
    assert add_reviewed(BUCKET, PREFIX, s3_client=s3).version == "v1"
    review(s3, "r-second", "neither", "uploads/1.jpg", None, minutes=5, decision_key="inference-1")

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert (result.version, result.removed, result.images) == ("v2", ["r-first"], [])
    assert result.not_training_data == {"neither": 1, "probe": 0, "superseded": 1}
    assert read_json(s3, f"{PREFIX}/versions/v2/manifest.json")["splits"]["train"] == base["splits"]["train"]


def test_gone_undecodable_and_unreadable_reviews_are_named_skips_and_the_rest_is_added(s3, base) -> None:
    review(s3, "r-good", "bicycle", "uploads/good.jpg", photo(1))
    review(s3, "r-gone", "motorcycle", "uploads/expired.jpg", None, minutes=1)
    review(s3, "r-garbage", "motorcycle", "uploads/garbage.jpg", b"\xff\xd8 not really a jpeg", minutes=2)
    s3.put_object(Bucket=BUCKET, Key="reviews/2026/12/02/09/broken.json", Body=b"{not json")

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert result.version == "v1"
    assert [i.record.review_id for i in result.images] == ["r-good"]
    assert sorted((s.review_id, s.reason) for s in result.skipped) == [
        ("r-garbage", "ImageUndecodable"),
        ("r-gone", "ImageGone"),
        ("reviews/2026/12/02/09/broken.json", "UnreadableRecord"),
    ]
    skipped = read_json(s3, f"{PREFIX}/versions/v1/version.json")["skipped"]
    assert {s["reason"] for s in skipped} == {"ImageGone", "ImageUndecodable", "UnreadableRecord"}
    assert "uploads/expired.jpg" in next(s["detail"] for s in skipped if s["reason"] == "ImageGone")


def test_a_reviewed_test_image_is_never_trained_on(s3, base) -> None:
    test_file = sorted(base["splits"]["test"]["files"])[0]
    body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/test/{test_file}")["Body"].read()
    review(s3, "r-leak", "bicycle", "uploads/leak.png", body)

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert result.up_to_date
    assert [(s.review_id, s.reason) for s in result.skipped] == [("r-leak", "SameAsEvaluationImage")]


def test_an_unfinished_version_is_not_a_version_and_its_number_is_reused(s3, base) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/versions/v1/train/stale.png", Body=b"left by a failed run")
    review(s3, "r-1", "bicycle", "uploads/1.jpg", photo(1))

    result = add_reviewed(BUCKET, PREFIX, s3_client=s3)

    assert result.version == "v1"
    assert f"{PREFIX}/versions/v1/train/stale.png" not in s3_keys(s3)
    assert f"{PREFIX}/versions/v1/version.json" in s3_keys(s3)


def test_the_cli_prints_the_version_and_each_skip(s3, base, capsys) -> None:
    review(s3, "r-1", "bicycle", "uploads/1.jpg", photo(1))
    review(s3, "r-gone", "bicycle", "uploads/2.jpg", None, minutes=1)

    assert main(["--add-reviewed", "--bucket", BUCKET, "--prefix", PREFIX]) == 0

    out, err = capsys.readouterr()
    assert out.startswith(f"wrote dataset version v1 at s3://{BUCKET}/{PREFIX}/versions/v1/")
    assert "skipped review r-gone: ImageGone" in err
    assert main(["--add-reviewed", "--bucket", BUCKET, "--prefix", PREFIX, "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("up to date: v1")


def test_the_cli_dry_run_names_the_version_and_writes_nothing(s3, base, capsys) -> None:
    review(s3, "r-1", "bicycle", "uploads/1.jpg", photo(1))
    assert main(["--add-reviewed", "--bucket", BUCKET, "--prefix", PREFIX, "--dry-run", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("would write dataset version v1")
    assert s3_keys(s3, prefix=f"{PREFIX}/versions/") == set()


def test_the_cli_needs_a_base_dataset_and_says_which(s3, capsys) -> None:
    assert main(["--add-reviewed", "--bucket", BUCKET, "--prefix", "datasets/none"]) == 6
    assert capsys.readouterr().err.startswith("error: DatasetMissing: s3://datasets/datasets/none/manifest.json")
    assert main(["--add-reviewed", "--bucket", BUCKET]) == 2
    assert "--add-reviewed needs --bucket and --prefix" in capsys.readouterr().err
