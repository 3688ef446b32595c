"""The dataset built from the shared archive: what the training job and the demo will read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import etl
from tests.etl.etl_testdata import Reference

SPLITS = ("train", "validation", "test")


def _lst(path: Path) -> list[tuple[int, int, str]]:
    rows = []
    for line in path.read_text().splitlines():
        index, label, name = line.split("\t")
        rows.append((int(index), int(label), name))
    return rows


def test_counts_per_split_and_class(dataset: etl.EtlResult) -> None:
    assert dataset.counts == {
        "train": {"bicycle": 360, "motorcycle": 360},
        "validation": {"bicycle": 40, "motorcycle": 40},
        "test": {"bicycle": 100, "motorcycle": 100},
    }
    for split, expected in (("train", 720), ("validation", 80), ("test", 200)):
        assert len(list((dataset.output / split).glob("*.png"))) == expected
        assert dataset.manifest["splits"][split]["count"] == expected


def test_every_png_has_the_archive_rows_pixels(dataset: etl.EtlResult, reference: Reference) -> None:
    """Decoded PNG == the archive row read as R plane, G plane, B plane (32 x 32 each)."""
    checked = 0
    for split in SPLITS:
        source = "test" if split == "test" else "train"
        for path in sorted((dataset.output / split).glob("*.png")):
            with Image.open(path) as image:
                assert image.mode == "RGB"
                assert image.size == (32, 32)
                pixels = np.asarray(image)
            row = reference.splits[source]["data"][reference.row_of(source, path.name)]
            assert np.array_equal(pixels[..., 0].ravel(), row[:1024]), path.name
            assert np.array_equal(pixels[..., 1].ravel(), row[1024:2048]), path.name
            assert np.array_equal(pixels[..., 2].ravel(), row[2048:]), path.name
            checked += 1
    assert checked == 1000


def test_lst_files_list_each_image_once_with_its_class_label(dataset: etl.EtlResult, reference: Reference) -> None:
    classes = ["bicycle", "motorcycle"]
    for split in SPLITS:
        folder = dataset.output / split
        rows = _lst(folder / f"{split}.lst")
        assert [index for index, _, _ in rows] == list(range(len(rows)))
        assert sorted(name for _, _, name in rows) == sorted(p.name for p in folder.glob("*.png"))
        source = "test" if split == "test" else "train"
        for _, label, name in rows:
            fine = reference.splits[source]["labels"][reference.row_of(source, name)]
            assert classes[label] == reference.names[fine], name  # filenames like bike_s_* exist in both classes


def test_labels_follow_the_order_of_classes(shared_archive: Path, tmp_path: Path, reference: Reference) -> None:
    result = etl.run(str(shared_archive), tmp_path / "flipped", classes="motorcycle,bicycle")
    assert result.manifest["class_map"] == {"motorcycle": 0, "bicycle": 1}
    for _, label, name in _lst(tmp_path / "flipped" / "test" / "test.lst"):
        fine = reference.splits["test"]["labels"][reference.row_of("test", name)]
        assert ["motorcycle", "bicycle"][label] == reference.names[fine]


def test_test_split_is_the_cifar_test_split_and_validation_comes_from_train(
    dataset: etl.EtlResult, reference: Reference
) -> None:
    names = {split: {p.name for p in (dataset.output / split).glob("*.png")} for split in SPLITS}
    assert names["test"] == set(reference.splits["test"]["filenames"])
    assert names["train"].isdisjoint(names["validation"])
    assert names["train"] | names["validation"] == set(reference.splits["train"]["filenames"])


def test_manifest_records_source_classes_and_every_file_hash(dataset: etl.EtlResult, shared_archive: Path) -> None:
    manifest = json.loads((dataset.output / etl.MANIFEST_NAME).read_text())
    assert manifest == dataset.manifest
    assert manifest["source"] == {
        "uri": str(shared_archive),
        "sha256": hashlib.sha256(shared_archive.read_bytes()).hexdigest(),
    }
    assert manifest["classes"] == ["bicycle", "motorcycle"]
    assert manifest["class_map"] == {"bicycle": 0, "motorcycle": 1}
    assert manifest["fine_label_ids"] == {"bicycle": 8, "motorcycle": 48}
    assert (manifest["seed"], manifest["validation_fraction"]) == (42, 0.1)
    on_disk = {p.relative_to(dataset.output).as_posix() for p in dataset.output.rglob("*") if p.is_file()}
    described = {etl.MANIFEST_NAME}
    for split in SPLITS:
        entry = manifest["splits"][split]
        assert entry["per_class"] == dataset.counts[split]
        listed = entry["list"]
        assert listed["path"] == f"{split}/{split}.lst"
        assert hashlib.sha256((dataset.output / listed["path"]).read_bytes()).hexdigest() == listed["sha256"]
        described.add(listed["path"])
        for name, file in entry["files"].items():
            payload = (dataset.output / split / name).read_bytes()
            assert hashlib.sha256(payload).hexdigest() == file["sha256"]
            assert file["size"] == len(payload)
            assert manifest["classes"][file["label"]] == file["class"]
            described.add(f"{split}/{name}")
    assert on_disk == described


def test_manifest_reads_one_file_per_line(dataset: etl.EtlResult) -> None:
    lines = (dataset.output / etl.MANIFEST_NAME).read_text().splitlines()
    for split in SPLITS:
        for name, file in dataset.manifest["splits"][split]["files"].items():
            [line] = [line for line in lines if line.lstrip().startswith(json.dumps(name) + ": ")]
            assert json.loads("{" + line.strip().rstrip(",") + "}") == {name: file}
    assert len(lines) < sum(split["count"] for split in dataset.manifest["splits"].values()) + 60


def test_same_inputs_give_byte_identical_output(dataset: etl.EtlResult, shared_archive: Path, tmp_path: Path) -> None:
    again = etl.run(str(shared_archive), tmp_path / "again")
    assert (again.output / etl.MANIFEST_NAME).read_bytes() == (dataset.output / etl.MANIFEST_NAME).read_bytes()


@pytest.mark.parametrize("seed", [0, 7])
def test_other_seeds_pick_other_validation_images_in_the_same_proportions(
    dataset: etl.EtlResult, shared_archive: Path, tmp_path: Path, seed: int
) -> None:
    other = etl.run(str(shared_archive), tmp_path / "other", seed=seed)
    assert other.counts == dataset.counts
    assert set(other.manifest["splits"]["validation"]["files"]) != set(
        dataset.manifest["splits"]["validation"]["files"]
    )


def test_more_writer_threads_write_the_same_dataset(
    dataset: etl.EtlResult, shared_archive: Path, tmp_path: Path
) -> None:
    threaded = etl.run(str(shared_archive), tmp_path / "threaded", workers=3)
    assert (threaded.output / etl.MANIFEST_NAME).read_bytes() == (dataset.output / etl.MANIFEST_NAME).read_bytes()
    assert sorted(p.relative_to(threaded.output) for p in threaded.output.rglob("*")) == sorted(
        p.relative_to(dataset.output) for p in dataset.output.rglob("*")
    )


def test_rerun_replaces_a_previous_dataset_in_place(shared_archive: Path, tmp_path: Path) -> None:
    output = tmp_path / "dataset"
    etl.run(str(shared_archive), output, validation_fraction=0.2)
    etl.run(str(shared_archive), output, validation_fraction=0.25)
    assert len(list((output / "validation").glob("*.png"))) == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no staging or old folders left
