"""shared/images.py: what the serializer accepts, rejects and sends on, image kind by image kind."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from shared.errors import ImageTooLarge, InvalidImage, WorkflowError
from shared.images import (
    JPEG,
    MAX_SIDE,
    PAYLOAD_BUDGET_BYTES,
    PNG,
    encode_within_budget,
    prepare_image,
    sniff_content_type,
)

from tests.functions.synthetic_images import (
    BLUE,
    RED,
    WHITE,
    animated_gif,
    apng,
    close_to,
    decoded,
    decompression_bomb_png,
    encode,
    exif_rotated_jpeg,
    gray16_png,
    halves,
    noise,
    rgb16_png,
)

SMALL_PNG = encode(noise(64, 48), "PNG")
SMALL_JPEG = encode(noise(64, 48), "JPEG", quality=90)


def test_small_rgb_png_passes_through_byte_for_byte():
    prepared = prepare_image(SMALL_PNG)

    assert prepared.data == SMALL_PNG
    assert (prepared.content_type, prepared.reencoded) == (PNG, False)
    assert (prepared.width, prepared.height) == (64, 48)


def test_small_jpeg_passes_through_byte_for_byte():
    prepared = prepare_image(SMALL_JPEG)

    assert (prepared.data, prepared.content_type) == (SMALL_JPEG, JPEG)


def test_grayscale_png_passes_through():
    data = encode(Image.new("L", (50, 40), 90), "PNG")

    prepared = prepare_image(data)

    assert prepared.data == data
    assert decoded(prepared.data).getpixel((0, 0)) == 90


def test_12_megapixel_phone_jpeg_is_downscaled_to_fit_the_payload_budget(phone_jpeg):
    assert len(phone_jpeg) > 1_000_000, "the fixture should be a realistically large photo"

    prepared = prepare_image(phone_jpeg)

    assert len(prepared.data) <= PAYLOAD_BUDGET_BYTES
    image = decoded(prepared.data)
    assert (image.format, image.mode, prepared.content_type) == ("JPEG", "RGB", JPEG)
    assert max(image.size) <= MAX_SIDE
    assert image.width / image.height == pytest.approx(4 / 3, rel=0.01)
    assert (prepared.source_width, prepared.source_height) == (4000, 3000)
    assert len(base64.b64encode(prepared.data)) < 256 * 1024


def test_rgba_png_is_flattened_onto_white():
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (20, 30), (*RED, 255)), (0, 0))

    prepared = prepare_image(encode(image, "PNG"))

    result = decoded(prepared.data)
    assert (result.mode, prepared.content_type) == ("RGB", JPEG)
    assert close_to(result.getpixel((5, 15)), RED)
    assert close_to(result.getpixel((35, 15)), WHITE), "transparent pixels must not turn black"


def test_16_bit_grayscale_png_is_scaled_not_clipped():
    prepared = prepare_image(gray16_png(32768))  # mid grey; a naive convert("L") makes it white

    pixel = decoded(prepared.data).convert("RGB").getpixel((10, 10))
    assert close_to(pixel, (128, 128, 128), tolerance=3)


def test_16_bit_rgb_png_is_reencoded_keeping_its_colour():
    prepared = prepare_image(rgb16_png((65535, 32768, 0)))

    assert (prepared.content_type, prepared.reencoded) == (JPEG, True)
    assert close_to(decoded(prepared.data).convert("RGB").getpixel((4, 4)), (255, 128, 0), tolerance=3)


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque", "with-transparent-index"])
def test_palette_png_becomes_rgb(transparent):
    image = halves(40, 30).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    options = {"transparency": image.getpixel((35, 15))} if transparent else {}

    prepared = prepare_image(encode(image, "PNG", **options))

    result = decoded(prepared.data).convert("RGB")
    assert close_to(result.getpixel((5, 15)), RED)
    assert close_to(result.getpixel((35, 15)), WHITE if transparent else BLUE)


def test_cmyk_jpeg_is_converted_to_rgb():
    data = encode(halves(40, 30).convert("CMYK"), "JPEG", quality=95)
    assert decoded(data).mode == "CMYK"

    prepared = prepare_image(data)

    result = decoded(prepared.data)
    assert result.mode == "RGB"
    assert close_to(result.getpixel((5, 15)), RED, tolerance=20)
    assert close_to(result.getpixel((35, 15)), BLUE, tolerance=20)


def test_exif_orientation_is_applied():
    # Stored 300x200 with red on the left; orientation 6 means "turn 90 degrees clockwise to view".
    prepared = prepare_image(exif_rotated_jpeg(orientation=6))

    result = decoded(prepared.data)
    assert result.size == (200, 300)
    assert close_to(result.getpixel((100, 40)), RED)
    assert close_to(result.getpixel((100, 260)), BLUE)
    assert result.getexif().get(0x0112) in (None, 1), "the output must not be turned a second time"


def test_animated_png_is_accepted_as_its_first_frame():
    prepared = prepare_image(apng())

    result = decoded(prepared.data)
    assert getattr(result, "n_frames", 1) == 1
    assert close_to(result.getpixel((10, 10)), RED)


def test_multi_picture_jpeg_from_a_phone_is_accepted_as_its_first_picture():
    data = encode(halves(60, 40), "MPO", save_all=True, append_images=[halves(60, 40, BLUE, RED)])

    prepared = prepare_image(data)

    assert (prepared.content_type, prepared.reencoded) == (JPEG, True)
    assert close_to(decoded(prepared.data).getpixel((5, 20)), RED)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (animated_gif(), "GIF"),
        (b"this is a text file, not a picture", "not PNG or JPEG"),
        (b"", "empty"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "WebP"),
    ],
    ids=["gif", "text", "empty", "webp"],
)
def test_anything_but_png_or_jpeg_is_rejected_by_content(data, named):
    with pytest.raises(InvalidImage, match=named):
        prepare_image(data)


@pytest.mark.parametrize(
    "data",
    [SMALL_PNG[: len(SMALL_PNG) // 2], SMALL_PNG[:-12], SMALL_JPEG[: len(SMALL_JPEG) // 2], SMALL_JPEG[:-2]],
    ids=["png-half", "png-without-iend", "jpeg-half", "jpeg-without-eoi"],
)
def test_truncated_files_are_invalid(data):
    with pytest.raises(InvalidImage, match="does not decode"):
        prepare_image(data)


def test_corrupted_png_crc_is_invalid():
    data = bytearray(SMALL_PNG)
    data[len(data) // 2] ^= 0xFF

    with pytest.raises(InvalidImage):
        prepare_image(bytes(data))


def test_decompression_bomb_is_too_large_without_being_decoded():
    bomb = decompression_bomb_png(100_000, 100_000)
    assert len(bomb) < 1000

    with pytest.raises(ImageTooLarge, match=r"10000000000 pixels; MAX_IMAGE_PIXELS allows 50000000"):
        prepare_image(bomb)


@pytest.mark.parametrize("size", [(101, 100), (150, 100), (300, 300)], ids=["just-over", "1.5x", "9x"])
def test_pixel_limit_is_enforced_exactly(size):
    data = encode(noise(*size), "PNG")

    with pytest.raises(ImageTooLarge, match="MAX_IMAGE_PIXELS"):
        prepare_image(data, max_pixels=100 * 100)
    assert prepare_image(data, max_pixels=size[0] * size[1]).width == size[0]


def test_sniffing_ignores_names_and_reads_magic_bytes():
    assert sniff_content_type(SMALL_PNG) == PNG
    assert sniff_content_type(SMALL_JPEG) == JPEG


@pytest.mark.parametrize("budget", [8 * 1024, 40 * 1024, PAYLOAD_BUDGET_BYTES])
def test_encode_within_budget_always_fits(budget):
    image = noise(1024, 768, seed=3)  # noise at q85 is several times any of these budgets

    data = encode_within_budget(image, budget)

    assert len(data) <= budget
    assert decoded(data).format == "JPEG"


def test_encode_within_budget_gives_up_with_a_named_error():
    with pytest.raises(ImageTooLarge, match="cannot encode"):
        encode_within_budget(noise(64, 64), 100)


def test_result_fits_in_a_step_functions_state_for_a_worst_case_image():
    # Noise at exactly MAX_SIDE with the longest S3 key: the largest output the serializer can produce.
    prepared = prepare_image(encode(noise(MAX_SIDE, MAX_SIDE, seed=4), "PNG"))
    state = {
        "s3_bucket": "b" * 63,
        "s3_key": "k" * 1024,
        "execution_name": "e" * 80,
        "image_data": base64.b64encode(prepared.data).decode(),
        "content_type": prepared.content_type,
    }

    assert len(json.dumps(state).encode()) < 256 * 1024


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from([SMALL_PNG, SMALL_JPEG, apng()]),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_damaged_images_only_ever_raise_named_errors(source, flips, cut):
    data = bytearray(source)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if cut is not None:
        data = data[: cut % len(data) + 1]

    try:
        prepared = prepare_image(bytes(data))
    except WorkflowError:
        return
    assert len(prepared.data) <= PAYLOAD_BUDGET_BYTES
    decoded(prepared.data)


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=2048), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_arbitrary_bytes_only_ever_raise_named_errors(tail, prefix):
    with contextlib.suppress(WorkflowError):
        prepare_image(prefix + tail)
