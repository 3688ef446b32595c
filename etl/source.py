"""Where the archive comes from: a local path, or a URL downloaded once into a cache and verified.

Downloads stream to `<name>.part` (resumed with a Range request after a dropped connection), are checked
against the expected checksum, and only then renamed into the cache with a small JSON sidecar holding their
digests, so a cache hit costs no hashing and a bad download never looks like a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from etl.errors import ChecksumMismatch, InvalidArgument, SourceUnavailable
from etl.progress import Reporter

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
DEFAULT_CACHE_DIR = Path("~/.cache/courier-vehicle/datasets")
CACHE_ENV = "ETL_CACHE_DIR"
HASHES = ("md5", "sha256")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Checksum:
    """An expected digest, written `md5:<hex>` or `sha256:<hex>` on the command line."""

    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str) -> Checksum:
        algorithm, _, digest = text.partition(":")
        algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
        sizes = {"md5": 32, "sha256": 64}
        if (
            algorithm not in sizes
            or len(digest) != sizes[algorithm]
            or not all(c in "0123456789abcdef" for c in digest)
        ):
            raise InvalidArgument(f"checksum {text!r} is not md5:<32 hex digits> or sha256:<64 hex digits>")
        return cls(algorithm, digest)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


# Checksums the publishers state for their archives; applied whenever the source is that exact URL.
PUBLISHED_CHECKSUMS: dict[str, Checksum] = {OFFICIAL_URL: Checksum("md5", "eb9058c3a382ffc7106e4002c42a8d85")}


@dataclass
class Source:
    """The archive on local disk, what it should hash to, and the digests already known for it."""

    uri: str
    path: Path
    expected: Checksum | None
    cached: bool = False
    digests: dict[str, str] = field(default_factory=dict)

    def missing_digests(self) -> list[str]:
        wanted = {"sha256"} | ({self.expected.algorithm} if self.expected else set())
        return sorted(wanted - set(self.digests))

    def verify(self, digests: dict[str, str]) -> None:
        """Accept digests computed while reading; a cached file that fails is removed so a re-run re-downloads."""
        self.digests.update(digests)
        if self.expected and self.digests[self.expected.algorithm] != self.expected.hexdigest:
            actual = self.digests[self.expected.algorithm]
            if self.cached:
                _remove(self.path)
                _remove(_sidecar(self.path))
                hint = " (removed from the cache; run again to re-download)"
            else:
                hint = ""
            raise ChecksumMismatch(
                f"{self.uri} has {self.expected.algorithm} {actual}, expected {self.expected.hexdigest}{hint}"
            )
        if self.cached and digests:
            _write_sidecar(self.path, self.uri, self.digests)

    def verify_whole_file(self) -> None:
        """After a read failure: a checksum mismatch, if there is one, is the better diagnosis."""
        if self.expected:
            self.digests = {}
            self.verify(_hash_file(self.path))


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in ("http", "https")


def cache_path(url: str, cache_dir: Path) -> Path:
    """One file per URL: a short hash of the URL keeps same-named archives from different hosts apart."""
    name = Path(urllib.parse.urlsplit(url).path).name or "archive.tar.gz"
    return cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"


def resolve(
    source: str,
    *,
    cache_dir: Path | None = None,
    checksum: Checksum | None = None,
    reporter: Reporter | None = None,
    retries: int = 4,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> Source:
    """A local file for `source` (path or http(s) URL), downloading into the cache when needed."""
    reporter = reporter or Reporter(quiet=True)
    expected = checksum or PUBLISHED_CHECKSUMS.get(source)
    if source.startswith("file://"):
        source = urllib.request.url2pathname(urllib.parse.urlsplit(source).path)
    if not is_url(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise SourceUnavailable(f"no archive at {source}")
        return Source(source, path, expected)

    destination = cache_path(source, cache_dir or default_cache_dir())
    if destination.is_file():
        digests = _read_sidecar(destination, source)
        if expected and expected.algorithm in digests and digests[expected.algorithm] != expected.hexdigest:
            _remove(destination)  # downloaded under another expectation: fetch again rather than fail
        else:
            reporter.info(f"source: {source} (cached at {destination.name})")
            return Source(source, destination, expected, cached=True, digests=digests)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceUnavailable(f"cannot create the download cache {destination.parent}: {exc.strerror}") from exc
    digests = download(
        source, destination, expected=expected, reporter=reporter, retries=retries, timeout=timeout, backoff=backoff
    )
    return Source(source, destination, expected, cached=True, digests=digests)


def download(
    url: str,
    destination: Path,
    *,
    expected: Checksum | None = None,
    reporter: Reporter | None = None,
    retries: int = 4,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> dict[str, str]:
    """Fetch `url` to `destination` with resume and retries; returns its md5 and sha256."""
    reporter = reporter or Reporter(quiet=True)
    part = destination.with_name(destination.name + ".part")
    for attempt in range(1, retries + 2):
        try:
            _fetch(url, part, timeout, reporter)
            break
        except _Permanent as exc:
            _remove(part)
            raise SourceUnavailable(f"cannot download {url}: {exc}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, _Incomplete) as exc:
            reason = getattr(exc, "reason", None) or exc
            if attempt > retries:
                raise SourceUnavailable(f"cannot download {url} after {attempt} attempts: {reason}") from None
            delay = backoff * 2 ** (attempt - 1)
            reporter.info(f"download interrupted ({reason}); retrying in {delay:.1f}s ({attempt}/{retries})")
            time.sleep(delay)
    digests = _hash_file(part)
    if expected and digests[expected.algorithm] != expected.hexdigest:
        _remove(part)
        raise ChecksumMismatch(
            f"{url} downloaded with {expected.algorithm} {digests[expected.algorithm]}, expected {expected.hexdigest}"
        )
    os.replace(part, destination)
    _write_sidecar(destination, url, digests)
    return digests


class _Permanent(Exception):
    """An HTTP answer that retrying will not change (404, 403, ...)."""


class _Incomplete(Exception):
    pass


def _fetch(url: str, part: Path, timeout: float, reporter: Reporter) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "courier-vehicle-etl"})  # noqa: S310
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:  # is_url() admitted only http and https
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # our partial file is bad or complete; start over
            _remove(part)
            raise _Incomplete("server refused to resume") from None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Incomplete(f"HTTP {exc.code}") from None
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        with open(part, "ab" if resumed else "wb") as handle, reporter.bar(f"download {part.name[:-5]}", total) as bar:
            bar.update(have)
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                bar.update(len(chunk))
                have += len(chunk)
    if total is not None and have != total:
        raise _Incomplete(f"connection closed after {have} of {total} bytes")


def _hash_file(path: Path) -> dict[str, str]:
    hashes = {name: hashlib.new(name, usedforsecurity=False) for name in HASHES}
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            for hasher in hashes.values():
                hasher.update(block)
    return {name: hasher.hexdigest() for name, hasher in hashes.items()}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _write_sidecar(path: Path, uri: str, digests: dict[str, str]) -> None:
    stat = path.stat()
    record = {"uri": uri, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, **digests}
    with contextlib.suppress(OSError):  # the sidecar only saves re-hashing; its absence is harmless
        _sidecar(path).write_text(json.dumps(record, indent=2) + "\n")


def _read_sidecar(path: Path, uri: str) -> dict[str, str]:
    """Digests recorded at download time, if the file has not changed since."""
    try:
        record = json.loads(_sidecar(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return {}
    if record.get("uri") != uri or record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns:
        return {}
    return {name: record[name] for name in HASHES if isinstance(record.get(name), str)}


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
