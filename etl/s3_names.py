"""S3's naming rules for a bucket and a key prefix, checked before anything is written or any client exists.

`python -m etl` and `python -m training.launch` both take a bucket and a prefix on the command line; Terraform's
`dataset` module validates bucket_name with the same pattern.
"""

from __future__ import annotations

import re

# New bucket names: 3-63 characters of a-z 0-9 . -, a letter or digit at each end, no "..", not an IP address.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
# S3 keys stop at 1024 UTF-8 bytes; the dataset's own paths (`validation/<name>.png`) need up to ~220 of them.
MAX_PREFIX_BYTES = 768


def bucket_problem(text: str) -> str | None:
    """Why `text` is not a bucket name, or None."""
    if BUCKET_NAME.fullmatch(text) and ".." not in text and not IP_ADDRESS.fullmatch(text):
        return None
    return (
        f"{text!r} is not an S3 bucket name (3-63 characters: lowercase letters, digits, dots and hyphens, "
        "starting and ending with a letter or digit)"
    )


def prefix_problem(text: str) -> str | None:
    """Why `text` is not a key prefix of plain segments (leading and trailing slashes are dropped), or None."""
    segments = text.strip("/").split("/") if text.strip("/") else []
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return f"{text!r} holds a control character"
    if any(segment in ("", ".", "..") for segment in segments):
        return f"{text!r} has an empty, '.' or '..' segment"
    if any(segment != segment.strip() for segment in segments):
        return f"{text!r} has a segment that starts or ends with whitespace"
    try:
        size = len(text.encode())
    except UnicodeError:
        return f"{text!r} is not valid UTF-8"
    if size > MAX_PREFIX_BYTES:
        return f"{text!r} is {size} bytes long; S3 keys allow {MAX_PREFIX_BYTES} for the prefix"
    return None
