"""Shared fixtures. Tests that need the real speech skip with a stated reason when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pghelp import create_database, drop_database, embedded_server

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL (with pgvector) started for this test session."""
    with embedded_server() as url:
        yield url


@pytest.fixture()
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for one test (dropped after it)."""
    url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against two workers (``VOXPRINT_TEST_WORKERS=postgres-pair``), tests of state that
    one worker keeps to itself by design do not apply."""
    if os.environ.get("VOXPRINT_TEST_WORKERS", "") != "postgres-pair":
        return
    skip = pytest.mark.skip(
        reason="checks one worker's own state (metrics, inference queue, a clock injected "
        "into one worker); not shared between workers by design"
    )
    for item in items:
        if "process_local" in item.keywords:
            item.add_marker(skip)
