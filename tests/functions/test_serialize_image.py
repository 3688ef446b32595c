"""serialize_image's handler against moto S3: the contract the state machine's first step relies on."""

from __future__ import annotations

import base64
import json

import pytest
from shared.contracts import SerializedImage
from shared.errors import ConfigurationError, ImageNotFound, ImageTooLarge, InvalidEvent, InvalidImage

from tests.cifar import cifar_png_images
from tests.functions.conftest import BUCKET, load_event
from tests.functions.synthetic_images import (
    decoded,
    decompression_bomb_png,
    encode,
    exif_rotated_jpeg,
    noise,
)

# A handler that fails on its configuration has measured nothing; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

STATE_LIMIT = 256 * 1024
PNG_BYTES = encode(noise(64, 48), "PNG")


@pytest.fixture(scope="module")
def app(load_handler, s3):
    """One handler module for the whole file, as one warm Lambda environment serves many events."""
    return load_handler("serialize_image")


@pytest.fixture
def serialize(app, lambda_context):
    def run(event):
        return app.lambda_handler(event, lambda_context)

    return run


def put(s3, key: str, body: bytes) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"s3_bucket": BUCKET, "s3_key": key}


def test_small_png_passes_through_unchanged(s3, serialize):
    result = serialize(put(s3, "uploads/courier-1/vehicle.png", PNG_BYTES))

    assert set(result) == {"s3_bucket", "s3_key", "image_data", "content_type", "probe"}
    assert (result["s3_bucket"], result["s3_key"]) == (BUCKET, "uploads/courier-1/vehicle.png")
    assert result["probe"] is False  # a courier's image; the synthetic probe's say True
    assert result["content_type"] == "image/png"
    assert base64.b64decode(result["image_data"]) == PNG_BYTES
    SerializedImage.model_validate(result)


def test_the_probe_flag_travels_on(s3, serialize):
    event = put(s3, "uploads/probe/bicycle.png", PNG_BYTES) | {"probe": True}

    assert serialize(event)["probe"] is True


def test_12_megapixel_jpeg_is_downscaled_under_the_step_functions_limit(s3, serialize, phone_jpeg):
    result = serialize(put(s3, "uploads/courier-2/IMG_0001.JPG", phone_jpeg))

    payload = json.dumps(result)  # also proves the result is JSON-serialisable: no bytes anywhere
    assert len(payload.encode()) < STATE_LIMIT
    image = decoded(base64.b64decode(result["image_data"]))
    assert result["content_type"] == "image/jpeg"
    assert image.format == "JPEG"
    assert max(image.size) <= 1024
    assert image.width > image.height, "a landscape photo stays landscape"


def test_a_png_named_jpg_is_served_as_png(s3, serialize):
    result = serialize(put(s3, "uploads/renamed.jpg", PNG_BYTES))

    assert result["content_type"] == "image/png"


def test_a_text_file_named_png_is_an_invalid_image(s3, serialize):
    with pytest.raises(InvalidImage, match="not PNG or JPEG"):
        serialize(put(s3, "uploads/notes.png", b"this is a text file, not a picture"))


def test_an_empty_object_is_an_invalid_image(s3, serialize):
    with pytest.raises(InvalidImage, match="empty"):
        serialize(put(s3, "uploads/empty.png", b""))


def test_a_missing_object_is_not_found(serialize):
    with pytest.raises(ImageNotFound, match=r"uploads/never-uploaded\.png"):
        serialize({"s3_bucket": BUCKET, "s3_key": "uploads/never-uploaded.png"})


def test_a_missing_bucket_is_not_found(serialize):
    with pytest.raises(ImageNotFound, match="no-such-bucket"):
        serialize({"s3_bucket": "no-such-bucket", "s3_key": "uploads/a.png"})


def test_an_object_over_the_byte_limit_is_refused_before_download(s3, app, serialize, monkeypatch):
    monkeypatch.setenv("MAX_IMAGE_BYTES", "1000")
    event = put(s3, "uploads/big.png", PNG_BYTES)
    downloads = []

    def count_download(**_kwargs):
        downloads.append(1)

    events = app.s3_client().meta.events
    events.register("before-call.s3.GetObject", count_download)
    try:
        with pytest.raises(ImageTooLarge, match=rf"{len(PNG_BYTES)} bytes; MAX_IMAGE_BYTES allows 1000"):
            serialize(event)
    finally:
        events.unregister("before-call.s3.GetObject", count_download)
    assert downloads == [], "the object must be refused from its HeadObject size"


def test_a_decompression_bomb_is_too_large(s3, serialize):
    with pytest.raises(ImageTooLarge, match="pixels"):
        serialize(put(s3, "uploads/bomb.png", decompression_bomb_png()))


def test_the_pixel_limit_comes_from_the_environment(s3, serialize, monkeypatch):
    monkeypatch.setenv("MAX_IMAGE_PIXELS", "1000")

    with pytest.raises(ImageTooLarge, match="3072 pixels; MAX_IMAGE_PIXELS allows 1000"):
        serialize(put(s3, "uploads/a.png", PNG_BYTES))


def test_exif_rotated_photo_arrives_upright(s3, serialize):
    result = serialize(put(s3, "uploads/sideways.jpg", exif_rotated_jpeg(orientation=6)))

    assert decoded(base64.b64decode(result["image_data"])).size == (200, 300)


def test_eventbridge_object_created_event_is_accepted(s3, serialize):
    event = load_event("serialize_image", "eventbridge_object_created.json")
    bucket, key = event["detail"]["bucket"]["name"], event["detail"]["object"]["key"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=key, Body=PNG_BYTES)

    result = serialize(event)

    assert (result["s3_bucket"], result["s3_key"]) == (bucket, key)
    assert base64.b64decode(result["image_data"]) == PNG_BYTES


def test_execution_name_is_carried_on_and_logged_as_correlation_id(s3, serialize, stdout_records):
    event = {**put(s3, "uploads/a.png", PNG_BYTES), "execution_name": "courier-1234-run"}

    result = serialize(event)

    assert result["execution_name"] == "courier-1234-run"
    logs = [r for r in stdout_records() if r.get("message") == "image serialized"]
    assert [log["correlation_id"] for log in logs] == ["courier-1234-run"]
    assert "image_data" not in json.dumps(logs), "the image must never be logged"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"s3_bucket": BUCKET}, "s3_key"),
        ({"s3_key": "a.png"}, "s3_bucket"),
        ({"s3_bucket": BUCKET, "s3_key": 42}, "s3_key"),
        ({"s3_bucket": BUCKET, "s3_key": ""}, "s3_key"),
        ({"s3_bucket": BUCKET, "s3_key": "k" * 1025}, "s3_key"),
        (
            {"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": BUCKET}}},
            "detail.object",
        ),
        (
            {
                "detail-type": "Object Deleted",
                "source": "aws.s3",
                "detail": {"bucket": {"name": BUCKET}, "object": {"key": "a.png"}},
            },
            "detail-type",
        ),
        ([], "<event>"),
        (None, "<event>"),
    ],
    ids=[
        "no-key",
        "no-bucket",
        "key-not-string",
        "empty-key",
        "key-too-long",
        "eventbridge-no-object",
        "eventbridge-deleted",
        "list",
        "null",
    ],
)
def test_malformed_events_name_the_field(serialize, event, field):
    with pytest.raises(InvalidEvent, match=field):
        serialize(event)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
@pytest.mark.parametrize("variable", ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS"])
def test_invalid_limits_are_configuration_errors(s3, serialize, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=variable):
        serialize(put(s3, "uploads/a.png", PNG_BYTES))


def test_metrics_describe_what_was_serialized(s3, serialize, emitted_metrics, phone_jpeg):
    serialize(put(s3, "uploads/small.png", PNG_BYTES))
    serialize(put(s3, "uploads/large.jpg", phone_jpeg))

    metrics = emitted_metrics()
    values = {
        name: [m["value"] for m in metrics if m["name"] == name]
        for name in ("ImagesSerialized", "ImageBytesIn", "ImageBytesOut", "ImagesReencoded")
    }
    assert values["ImagesSerialized"] == [1.0, 1.0]
    assert values["ImageBytesIn"] == [len(PNG_BYTES), len(phone_jpeg)]
    assert values["ImageBytesOut"][0] == len(PNG_BYTES)
    assert values["ImageBytesOut"][1] < 150 * 1024
    assert values["ImagesReencoded"] == [1.0]
    assert {m["unit"] for m in metrics if m["name"].startswith("ImageBytes")} == {"Bytes"}


def test_rejections_are_counted(s3, serialize, emitted_metrics):
    with pytest.raises(InvalidImage):
        serialize(put(s3, "uploads/notes.png", b"plain text"))

    assert [m["name"] for m in emitted_metrics()] == ["ImagesRejected"]


def test_real_cifar_images_pass_through_unchanged(s3, serialize, shared_archive):
    for name, png in cifar_png_images(shared_archive, "test", "motorcycle", 3):
        result = serialize(put(s3, f"cifar/{name}", png))

        assert base64.b64decode(result["image_data"]) == png
        assert result["content_type"] == "image/png"
