"""PNG or JPEG, told from an image's first bytes: what serialize_image and inference_api accept.

Standard library only, so a function that only needs to check what it was sent (inference_api) does not carry
Pillow; decoding lives in `shared.images`.
"""

from __future__ import annotations

from shared.errors import InvalidImage

PNG = "image/png"
JPEG = "image/jpeg"
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG))
_OTHER_SIGNATURES = (
    (b"GIF8", "GIF"),
    (b"RIFF", "RIFF (WebP?)"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)


def sniff_content_type(data: bytes) -> str:
    """PNG or JPEG by magic bytes; the S3 key's extension and Content-Type header are not trusted."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    for signature, name in _OTHER_SIGNATURES:
        if data.startswith(signature):
            raise InvalidImage(f"content is {name}, only PNG and JPEG are accepted")
    if not data:
        raise InvalidImage("object is empty (0 bytes)")
    raise InvalidImage(f"content is not PNG or JPEG (first bytes {data[:8]!r})")
