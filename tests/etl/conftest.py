"""Fixtures for the ETL tests: one ETL run of the shared archive, small archives, a local HTTP server for
downloads (the official URL cannot be reached from tests), and moto for S3."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

import etl
from etl.load import make_client
from tests.etl import archive_writer as writer
from tests.etl.etl_testdata import Reference, read_reference, small_members


@pytest.fixture(scope="session")
def reference(shared_archive: Path) -> Reference:
    return read_reference(shared_archive)


@pytest.fixture(scope="session")
def dataset(shared_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> etl.EtlResult:
    """One default ETL run of the shared archive (bicycle, motorcycle; 10 % validation; seed 42)."""
    return etl.run(str(shared_archive), tmp_path_factory.mktemp("etl") / "dataset")


@pytest.fixture
def make_archive(tmp_path: Path) -> Callable[..., Path]:
    """make_archive(members=None) -> path of a .tar.gz; by default a small valid archive."""
    numbers = count()

    def build(members: dict[str, bytes] | None = None) -> Path:
        path = tmp_path / f"archive-{next(numbers)}.tar.gz"
        writer.write_archive(path, small_members() if members is None else members)
        return path

    return build


@dataclass
class FileServer:
    """Serves `files` by path with Range support; `plan` scripts the next requests' failures."""

    files: dict[str, bytes] = field(default_factory=dict)
    plan: list[str] = field(default_factory=list)  # per request: "500", "404", "drop:<bytes>"; then normal
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


def _handler(state: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            byte_range = self.headers.get("Range")
            state.requests.append((self.path, byte_range))
            action = state.plan.pop(0) if state.plan else "ok"
            body = state.files.get(self.path)
            if body is None or action in ("500", "404"):
                self.send_response(404 if body is None else int(action))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(byte_range.split("=")[1].split("-")[0]) if byte_range else 0
            payload = body[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if action.startswith("drop:"):
                self.wfile.write(payload[: int(action.split(":")[1])])
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def s3() -> Iterator[Any]:
    """An in-process moto S3 with the bucket `datasets`, and a client for it."""
    with mock_aws():
        client = make_client()
        client.create_bucket(Bucket="datasets", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client
