"""The benchmarks' whole-or-nothing writer: a rerun skips a task whose file exists, so a
write cut short must never leave a file at the final path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_files", Path(__file__).resolve().parent.parent / "benchmarks" / "_files.py"
)
_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_files)


def test_write_whole_writes_through_a_temporary_file(tmp_path):
    target = tmp_path / "deep" / "result.json"
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert not target.exists()  # the final name appears only once the write is over
        tmp.write_text("{}")

    assert _files.write_whole(target, write) == target
    assert target.read_text() == "{}"
    assert seen[0].suffix == ".json" and seen[0] != target
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_an_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "preds.npz"

    def write(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt  # a session's end mid-write

    with pytest.raises(KeyboardInterrupt):
        _files.write_whole(target, write)
    assert list(tmp_path.iterdir()) == []
