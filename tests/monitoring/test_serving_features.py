"""The image features the serving container answers (training/sourcedir/features.py and inference.py's hook):
what both monitoring engines read from the captured response, for JPEG and PNG alike."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.monitoring.conftest import jpeg_bytes, photo, png_bytes, serving_features
from tests.training.scriptmode import SOURCEDIR  # puts the sourcedir on sys.path, as the serving container does


def test_png_features_are_the_channel_statistics_of_the_image() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    data = png_bytes(pixels)
    features = serving_features.image_features(data)
    values = pixels.reshape(-1, 3).astype(np.float64)
    assert (features["image_format"], features["width"], features["height"]) == ("png", 64, 48)
    assert features["byte_size"] == len(data)
    for lane, name in enumerate("rgb"):
        assert features[f"{name}_mean"] == pytest.approx(values[:, lane].mean(), abs=1e-4)
        assert features[f"{name}_std"] == pytest.approx(values[:, lane].std(), abs=1e-4)
    assert features["brightness"] == pytest.approx(float(values.mean(axis=0) @ [0.299, 0.587, 0.114]), abs=1e-4)
    assert set(features) == set(serving_features.FEATURE_NAMES)


def test_a_real_size_jpeg_is_described_like_a_png() -> None:
    pixels = photo(np.random.default_rng(4))
    from_jpeg = serving_features.image_features(jpeg_bytes(pixels))
    from_png = serving_features.image_features(png_bytes(pixels))
    assert (from_jpeg["image_format"], from_jpeg["width"], from_jpeg["height"]) == ("jpeg", 640, 480)
    assert all(from_jpeg[name] is not None for name in serving_features.FEATURE_NAMES)
    # Lossy compression keeps the means and smooths the noise a little (lower standard deviations).
    for name in ("r_mean", "g_mean", "b_mean", "brightness"):
        assert from_jpeg[name] == pytest.approx(from_png[name], abs=2.0), name
    for name in ("r_std", "g_std", "b_std"):
        assert from_jpeg[name] == pytest.approx(from_png[name], rel=0.25), name


def test_size_is_the_upright_size_as_the_model_sees_it() -> None:
    image = Image.fromarray(np.zeros((20, 60, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    features = serving_features.image_features(buffer.getvalue())
    assert (features["width"], features["height"]) == (20, 60)


def test_greyscale_and_alpha_images_are_described_in_rgb() -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 90, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    features = serving_features.image_features(buffer.getvalue())
    assert (features["r_mean"], features["g_mean"], features["b_mean"], features["brightness"]) == (90.0,) * 4


def test_undecodable_bytes_are_a_named_error() -> None:
    with pytest.raises(serving_features.ImageFeaturesError, match="cannot decode"):
        serving_features.image_features(b"not an image")


def test_json_pixel_images_have_pixel_features_and_no_byte_size() -> None:
    features = serving_features.pixel_features(np.full((4, 6, 3), 200).tolist())
    assert (features["image_format"], features["width"], features["height"], features["byte_size"]) == (
        "pixels",
        6,
        4,
        None,
    )
    assert features["brightness"] == 200.0


@pytest.fixture(scope="module")
def served():
    """inference.py with an untrained network: the response object, whatever the weights."""
    import inference
    import model as model_definition
    import preprocessing

    network = model_definition.build_model(model_definition.DEFAULT_ARCHITECTURE, 2).eval()
    loaded = inference.LoadedModel(
        network=network,
        labels=["bicycle", "motorcycle"],
        normalization=preprocessing.NORMALIZATION,
        confidence_threshold=0.93,
        model_version="courier-vehicle-20250101-0900",
    )

    def answer(body, content_type: str) -> dict:
        prediction = inference.predict_fn(inference.input_fn(body, content_type), loaded)
        return json.loads(inference.output_fn(prediction, "application/json"))

    return answer


def test_the_response_object_carries_each_images_features(served) -> None:
    jpeg = jpeg_bytes(photo(np.random.default_rng(5)))
    answer = served(jpeg, "image/jpeg")
    assert set(answer) == {"probabilities", "labels", "confidence_threshold", "model_version", "features"}
    assert answer["features"] == serving_features.image_features(jpeg)
    assert len(answer["probabilities"]) == 2
    assert (answer["labels"], answer["confidence_threshold"]) == (["bicycle", "motorcycle"], 0.93)


def test_a_request_of_several_images_answers_a_feature_object_per_image(served) -> None:
    images = [np.full((8, 8, 3), shade).tolist() for shade in (10, 250)]
    answer = served(json.dumps({"instances": images}), "application/json")
    assert [f["brightness"] for f in answer["features"]] == [10.0, 250.0]
    assert len(answer["probabilities"]) == 2


def test_train_packages_features_into_the_model_code() -> None:
    import train

    assert "features.py" in train.SERVING_FILES
    assert (SOURCEDIR / "features.py").is_file()
