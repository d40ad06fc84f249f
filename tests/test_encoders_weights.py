"""Weights files: their digest, remembered across processes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from voxprint.encoders import weights
from voxprint.encoders.weights import DIGESTS_FILE, weights_digest


@pytest.fixture(autouse=True)
def fresh_process_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: nothing hashed yet."""
    monkeypatch.setattr(weights, "_digest_cache", {})


def forget_this_process() -> None:
    weights._digest_cache.clear()


def test_a_digest_is_remembered_in_the_cache_folder_for_later_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    cache = tmp_path / "cache"
    expected = hashlib.sha256(b"weights").hexdigest()[:12]
    assert weights_digest(path, cache) == expected
    remembered = json.loads((cache / DIGESTS_FILE).read_text())
    assert remembered[str(path.resolve())][2] == expected

    forget_this_process()
    monkeypatch.setattr(weights.hashlib, "sha256", lambda: pytest.fail("hashed again"))
    assert weights_digest(path, cache) == expected


def test_a_changed_file_is_hashed_again_despite_the_remembered_digest(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    cache = tmp_path / "cache"
    path.write_bytes(b"first")
    weights_digest(path, cache)
    forget_this_process()
    path.write_bytes(b"second version")
    assert weights_digest(path, cache) == hashlib.sha256(b"second version").hexdigest()[:12]


def test_a_damaged_digest_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DIGESTS_FILE).write_text("{not json")
    assert weights_digest(path, cache) == hashlib.sha256(b"weights").hexdigest()[:12]
    assert str(path.resolve()) in json.loads((cache / DIGESTS_FILE).read_text())


def test_a_forged_entry_of_the_wrong_shape_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    stat = path.stat()
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = [stat.st_mtime_ns, stat.st_size, "not a digest of twelve"]
    (cache / DIGESTS_FILE).write_text(json.dumps({str(path.resolve()): entry}))
    assert weights_digest(path, cache) == hashlib.sha256(b"weights").hexdigest()[:12]


def test_a_cache_folder_that_cannot_be_written_still_gives_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    assert weights_digest(path, blocked / "cache") == hashlib.sha256(b"weights").hexdigest()[:12]
    assert blocked.read_text() == "not a folder"


def test_without_a_cache_folder_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    weights_digest(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.bin"]
