"""Downloading the archive: cache, resume, retries, checksums (against a local HTTP server)."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

import etl
from etl import source
from etl.progress import Reporter
from tests.etl.conftest import FileServer

MakeArchive = Callable[..., Path]


@pytest.fixture
def served(make_archive: MakeArchive, file_server: FileServer) -> tuple[str, bytes]:
    payload = make_archive().read_bytes()
    file_server.files["/data/cifar-100-python.tar.gz"] = payload
    return file_server.url("data/cifar-100-python.tar.gz"), payload


def _cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_a_download_is_cached_and_not_repeated(
    served: tuple[str, bytes], file_server: FileServer, tmp_path: Path
) -> None:
    url, payload = served
    cache = tmp_path / "cache"
    first = etl.run(url, tmp_path / "a", cache_dir=cache)
    second = etl.run(url, tmp_path / "b", cache_dir=cache)
    assert len(file_server.requests) == 1
    assert first.manifest["source"] == {"uri": url, "sha256": hashlib.sha256(payload).hexdigest()}
    assert second.manifest == first.manifest
    archive = source.cache_path(url, cache)
    assert archive.read_bytes() == payload
    assert _cache_files(cache) == [archive.name, archive.name + ".json"]  # no .part left behind


def test_a_dropped_connection_resumes_where_it_stopped(
    served: tuple[str, bytes], file_server: FileServer, tmp_path: Path
) -> None:
    url, payload = served
    file_server.plan = ["drop:1000"]
    resolved = source.resolve(url, cache_dir=tmp_path, backoff=0)
    assert resolved.path.read_bytes() == payload
    assert [byte_range for _, byte_range in file_server.requests] == [None, "bytes=1000-"]


def test_server_errors_are_retried_then_reported(
    served: tuple[str, bytes], file_server: FileServer, tmp_path: Path
) -> None:
    url, _ = served
    file_server.plan = ["500"] * 3
    with pytest.raises(etl.SourceUnavailable, match="after 3 attempts: HTTP 500"):
        source.resolve(url, cache_dir=tmp_path, retries=2, backoff=0)
    assert len(file_server.requests) == 3
    file_server.plan = ["500"]
    assert source.resolve(url, cache_dir=tmp_path, retries=2, backoff=0).path.is_file()


def test_a_missing_url_fails_at_once(file_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(etl.SourceUnavailable, match="HTTP 404"):
        source.resolve(file_server.url("nothing.tar.gz"), cache_dir=tmp_path / "cache", backoff=0)
    assert len(file_server.requests) == 1
    assert _cache_files(tmp_path / "cache") == []


def test_an_unreachable_host_is_reported(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    with pytest.raises(etl.SourceUnavailable, match="cannot download"):
        source.resolve(f"http://127.0.0.1:{port}/a.tar.gz", cache_dir=tmp_path, retries=1, backoff=0)


def test_a_download_with_the_wrong_checksum_is_not_cached(served: tuple[str, bytes], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(etl.ChecksumMismatch, match="expected 00000000"):
        source.resolve(url, cache_dir=tmp_path / "cache", checksum=source.Checksum("md5", "0" * 32))
    assert _cache_files(tmp_path / "cache") == []


def test_the_official_archive_is_checked_against_its_published_md5(
    served: tuple[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert source.PUBLISHED_CHECKSUMS[etl.OFFICIAL_URL] == source.Checksum("md5", "eb9058c3a382ffc7106e4002c42a8d85")
    assert etl.OFFICIAL_URL == "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    url, payload = served
    monkeypatch.setitem(source.PUBLISHED_CHECKSUMS, url, source.Checksum("md5", "f" * 32))
    with pytest.raises(etl.ChecksumMismatch):
        etl.run(url, tmp_path / "out", cache_dir=tmp_path / "cache")
    monkeypatch.setitem(source.PUBLISHED_CHECKSUMS, url, source.Checksum("md5", hashlib.md5(payload).hexdigest()))
    assert etl.run(url, tmp_path / "out", cache_dir=tmp_path / "cache").output.is_dir()


def test_a_cached_file_that_changed_is_verified_again_and_dropped(
    served: tuple[str, bytes], file_server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, payload = served
    monkeypatch.setitem(source.PUBLISHED_CHECKSUMS, url, source.Checksum("sha256", hashlib.sha256(payload).hexdigest()))
    cache = tmp_path / "cache"
    etl.run(url, tmp_path / "out", cache_dir=cache)
    cached = source.cache_path(url, cache)
    cached.write_bytes(payload[:-10] + b"0123456789")  # same size, other bytes, new mtime
    with pytest.raises(etl.ChecksumMismatch, match="removed from the cache"):
        etl.run(url, tmp_path / "out", cache_dir=cache)
    assert not cached.exists()
    etl.run(url, tmp_path / "out", cache_dir=cache)
    assert len(file_server.requests) == 2
    assert cached.read_bytes() == payload


def test_the_download_shows_progress(served: tuple[str, bytes], tmp_path: Path) -> None:
    url, _ = served
    stream = io.StringIO()
    source.resolve(url, cache_dir=tmp_path, reporter=Reporter(stream))
    assert "download" in stream.getvalue()
    assert "100%" in stream.getvalue()


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETL_CACHE_DIR", str(tmp_path))
    assert source.default_cache_dir() == tmp_path
    monkeypatch.delenv("ETL_CACHE_DIR")
    assert source.default_cache_dir() == Path.home() / ".cache" / "courier-vehicle" / "datasets"


@pytest.mark.parametrize("text", ["md5:xyz", "sha1:" + "0" * 40, "sha256:" + "0" * 63, "0" * 32])
def test_malformed_checksums_are_invalid_arguments(text: str) -> None:
    with pytest.raises(etl.InvalidArgument):
        source.Checksum.parse(text)
