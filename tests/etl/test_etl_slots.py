"""File slots: files created during decompression and renamed into place must leave exactly the dataset."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from etl import slots as slots_module
from etl.slots import FileSlots


@pytest.mark.parametrize("quick_create_s", [0.0, 10.0], ids=["slow file system", "quick file system"])
def test_slot_writes_leave_each_payload_under_its_name_and_no_slots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_create_s: float
) -> None:
    # 0 s: every create counts as slow, so 80 slots are made and 20 left over; 10 s: the thread stops after its
    # probe, and the files past those slots are created directly.
    monkeypatch.setattr(slots_module, "QUICK_CREATE_S", quick_create_s)
    (tmp_path / "train").mkdir()
    slots = FileSlots(tmp_path, limit=80)
    expected = 80 if quick_create_s == 0 else slots_module.PROBE_SLOTS
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob(".slot-*"))) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    slots.stop()
    assert len(list(tmp_path.glob(".slot-*"))) == expected  # both ways of writing a file are used below
    payloads = {f"train/image_{index:03d}.png": bytes([index]) * (index + 1) for index in range(60)}
    for name, payload in payloads.items():
        slots.write(str(tmp_path / name), payload)
    slots.close()
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()) == sorted(payloads)
    assert all((tmp_path / name).read_bytes() == payload for name, payload in payloads.items())


class _ShortWrites:
    """`os` for etl.slots, except that each write takes at most 100 bytes (as a filling disk may)."""

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    @staticmethod
    def write(descriptor: int, data: bytes) -> int:
        return os.write(descriptor, memoryview(data)[:100])


def test_short_writes_still_write_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slots_module, "os", _ShortWrites())
    payload = bytes(range(256)) * 13
    slots_module.write_file(tmp_path / "image.png", np.frombuffer(payload, dtype=np.uint8))
    assert (tmp_path / "image.png").read_bytes() == payload
