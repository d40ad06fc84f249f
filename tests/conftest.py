"""Shared fixtures. Tests that need the real speech skip with a stated reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    return Path(os.environ.get("VOXPRINT_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = shared_data_root()
    if not (root / "librispeech").is_dir():
        pytest.skip(
            f"real speech not found at {root} (set VOXPRINT_DATA to the shared data folder)"
        )
    return root


@pytest.fixture(scope="session")
def speech_file(data_root: Path) -> Path:
    """A real ~10 s LibriSpeech utterance (FLAC, 16 kHz mono)."""
    files = sorted((data_root / "librispeech" / "test-other").glob("*/*.flac"))
    return files[0]


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
