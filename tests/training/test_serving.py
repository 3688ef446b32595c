"""inference.py's SageMaker handlers on a model train.py wrote, and preprocessing.py as the one image pipeline."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import inference
import numpy as np
import preprocessing
import pytest
import train
from PIL import Image

from tests.training.scriptmode import CLASS_NAMES, Dataset, TrainingRun


@pytest.fixture(scope="module")
def loaded(trained_run: TrainingRun) -> inference.LoadedModel:
    return inference.model_fn(str(trained_run.model_dir))


def first_test_image(dataset: Dataset) -> tuple[str, bytes]:
    name = (dataset.channel("test") / "test.lst").read_text().splitlines()[0].split("\t")[2]
    return name, (dataset.channel("test") / name).read_bytes()


def invoke(model: inference.LoadedModel, body: bytes | str, content_type: str, accept: str = "application/json"):
    """The four handlers in the order the SageMaker PyTorch serving container calls them; the probabilities."""
    answer = inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)
    return json.loads(answer)["probabilities"]


def test_png_request_returns_the_probabilities_training_evaluated(
    loaded: inference.LoadedModel, trained_run: TrainingRun, synthetic_dataset: Dataset
) -> None:
    name, png = first_test_image(synthetic_dataset)
    probabilities = invoke(loaded, png, "application/x-image")
    assert len(probabilities) == len(CLASS_NAMES)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert loaded.labels == list(CLASS_NAMES)
    evaluation = json.loads((trained_run.output_dir / "evaluation.json").read_text())
    recorded = next(p for p in evaluation["test"]["predictions"] if p["file"] == name)
    best = int(np.argmax(probabilities))
    assert CLASS_NAMES[best] == recorded["predicted"]
    assert probabilities[best] == pytest.approx(recorded["confidence"], abs=1e-5)


def test_large_jpeg_is_resized_and_classified(loaded: inference.LoadedModel) -> None:
    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(0, 255, size=(900, 1600, 3), dtype=np.uint8)).convert("RGB")
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    batch = inference.input_fn(buffer.getvalue(), "image/jpeg")
    assert batch.arrays.shape == (1, 32, 32, 3)
    probabilities = invoke(loaded, buffer.getvalue(), "application/x-image")
    assert len(probabilities) == 2
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_json_pixels_match_the_png_and_batches_keep_order(
    loaded: inference.LoadedModel, synthetic_dataset: Dataset
) -> None:
    _, png = first_test_image(synthetic_dataset)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).tolist()
    from_png = invoke(loaded, png, "application/x-image")
    assert invoke(loaded, json.dumps(pixels), "application/json") == from_png
    assert invoke(loaded, json.dumps({"instances": pixels}).encode(), "application/json; charset=utf-8") == from_png
    mirrored = np.asarray(pixels)[:, ::-1].tolist()
    uniform = np.full((32, 32, 3), 128).tolist()
    batch = invoke(loaded, json.dumps({"instances": [pixels, uniform, mirrored]}), "application/json")
    assert len(batch) == 3
    assert batch[0] == pytest.approx(from_png, abs=1e-6)
    assert batch[2] == pytest.approx(from_png, abs=1e-6), "flip-averaged predictions are mirror-invariant"
    assert all(sum(row) == pytest.approx(1.0, abs=1e-5) for row in batch)


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-npy", ""])
def test_unsupported_content_type_is_named_in_the_error(loaded: inference.LoadedModel, content_type: str) -> None:
    with pytest.raises(ValueError, match=f"unsupported content type '{content_type}'"):
        inference.input_fn(b"1,2,3", content_type)


def test_unsupported_accept_type_is_named(loaded: inference.LoadedModel, synthetic_dataset: Dataset) -> None:
    _, png = first_test_image(synthetic_dataset)
    prediction = inference.predict_fn(inference.input_fn(png, "application/x-image"), loaded)
    with pytest.raises(ValueError, match="text/csv"):
        inference.output_fn(prediction, "text/csv")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"not an image", "application/x-image", "cannot decode"),
        (b"{not json", "application/json", "not valid JSON"),
        (json.dumps([[1, 2], [3, 4]]), "application/json", "height x width x 3"),
        (json.dumps({"images": []}), "application/json", "instances"),
        (json.dumps([[[0, 0, 300]]]), "application/json", "between 0 and 255"),
    ],
)
def test_malformed_requests_raise_value_errors(body: bytes | str, content_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inference.input_fn(body, content_type)


def test_training_and_serving_prepare_identical_tensors(synthetic_dataset: Dataset) -> None:
    """One definition of preprocessing: train.read_split and inference.input_fn give the network the same numbers."""
    split = train.read_split(synthetic_dataset.channel("test"), num_classes=2)
    png = (synthetic_dataset.channel("test") / split.files[5]).read_bytes()
    served = inference.input_fn(png, "application/x-image").arrays
    assert np.array_equal(served[0], split.images[5])
    assert preprocessing.arrays_to_tensor(served).equal(preprocessing.arrays_to_tensor(split.images[5:6]))
    assert np.array_equal(served[0], np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))), "32x32 kept as is"


def test_wide_image_is_center_cropped_not_squashed() -> None:
    wide = np.zeros((32, 96, 3), dtype=np.uint8)
    wide[:, :32] = (255, 0, 0)
    wide[:, 32:64] = (0, 255, 0)
    wide[:, 64:] = (0, 0, 255)
    array = preprocessing.pixels_to_array(wide.tolist())
    assert array.shape == (32, 32, 3)
    assert (array == (0, 255, 0)).all()


def test_model_tar_code_serves_on_its_own(trained_run: TrainingRun, synthetic_dataset: Dataset) -> None:
    """A fresh interpreter with only model_dir/code importable, like the serving container, loads and predicts."""
    _, png = first_test_image(synthetic_dataset)
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1] + '/code'); import inference; "
        "m = inference.model_fn(sys.argv[1]); body = open(sys.argv[2], 'rb').read(); "
        "print(inference.output_fn(inference.predict_fn(inference.input_fn(body, 'application/x-image'), m), "
        "'application/json'))"
    )
    image_path = trained_run.model_dir.parent / "request.png"
    image_path.write_bytes(png)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", script, str(trained_run.model_dir), str(image_path)],
        cwd=Path(trained_run.model_dir).parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    probabilities = json.loads(completed.stdout)["probabilities"]
    assert len(probabilities) == 2
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


def test_the_server_runs_one_intra_op_thread_unless_told_otherwise(trained_run: TrainingRun, monkeypatch) -> None:
    """Several torch threads per single-image request spin against each other: ~100x slower on 2 busy cores."""
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("SERVING_TORCH_THREADS", raising=False)
        inference.model_fn(str(trained_run.model_dir))
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("SERVING_TORCH_THREADS", "2")
        inference.model_fn(str(trained_run.model_dir))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
