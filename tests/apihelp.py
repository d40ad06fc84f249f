"""Shared helpers for the service tests: a fake-model service, a client, WAV bytes.

``make_app`` builds the real app around a service with the tone-spectrum fake
encoder and energy VAD (no model weights), on a fresh SQLite file; API keys are on.

With ``VOXPRINT_TEST_WORKERS=postgres-pair`` in the environment, every store is a
PostgreSQL database (on a server the tests start) and ``make_app`` returns two workers:
two apps, each with its own service, store pool, gallery index and thresholds, behind a
round-robin balancer, so consecutive requests of a test go to different workers. Run the
API tests that way to check that no request depends on state of one process::

    VOXPRINT_TEST_WORKERS=postgres-pair pytest tests/test_api_profiles.py ...
"""

from __future__ import annotations

import atexit
import io
import itertools
import os
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from voxprint.access import KeyService
from voxprint.api import create_app
from voxprint.enrollment import EnrollmentPolicy
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.settings import Settings
from voxprint.store import SQLiteStore, Store, open_store

from fakes import RATE, EnergyVad, ToneEncoder, tone_thresholds, voice
from pghelp import create_database, embedded_server


def wav_bytes(signal: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit PCM WAV bytes of a float signal."""
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def voice_wav(fundamental: float, seconds: float, *, seed: int = 0) -> bytes:
    return wav_bytes(voice(fundamental, seconds, seed=seed))


PAIR = os.environ.get("VOXPRINT_TEST_WORKERS", "") == "postgres-pair"
_servers = ExitStack()
_admin: list[str] = []
_databases: dict[str, str] = {}


def open_test_store(db: Path) -> Store:
    """The store behind ``db``: that SQLite file, or (in pair mode) the PostgreSQL database
    that stands for it (the same ``db`` is the same database, as for two processes)."""
    if not PAIR:
        return SQLiteStore(db)
    if not _admin:
        _admin.append(_servers.enter_context(embedded_server()))
        atexit.register(_servers.close)
    if str(db) not in _databases:
        _databases[str(db)] = create_database(_admin[0])
    return open_store(_databases[str(db)])


class RoundRobin:
    """Two (or more) ASGI apps behind one address, requests dealt in turn, as a load
    balancer in front of several workers would; each app runs its own lifespan. Other
    attributes (``state``...) are those of the first app."""

    def __init__(self, *apps: Any) -> None:
        self.apps = apps
        self._turn = itertools.cycle(apps)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.apps[0], name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await next(self._turn)(scope, receive, send)
            return
        await receive()  # lifespan.startup
        async with AsyncExitStack() as stack:
            for app in self.apps:
                await stack.enter_async_context(app.router.lifespan_context(app))
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def fake_service(db: Path, *, enroll_seconds: float = 10.0) -> VoxprintService:
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    store = open_test_store(db)
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=enroll_seconds),
    )


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"log_json": True, **overrides}
    return Settings(**values)


def make_app(db: Path, **overrides: Any):
    """(app, service) with the fake model; settings fields may be overridden. In pair mode
    the app is two workers behind :class:`RoundRobin` and ``service`` the first's."""
    service = fake_service(db)
    app = create_app(settings(**overrides), service=service)
    if not PAIR:
        return app, service
    other = fake_service(db)
    return RoundRobin(app, create_app(settings(**overrides), service=other)), service


def issue_key(service: VoxprintService, namespace: str = "default", name: str = "test") -> str:
    return KeyService(service.store).create(name, namespace).token


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_for(app) -> TestClient:
    """A client that runs the app's lifespan (use as a context manager)."""
    return TestClient(app, raise_server_exceptions=False)


@contextmanager
def api_on_cli_database(db: str | Path) -> Iterator[TestClient]:
    """A client of the REST API serving the database a CLI test wrote, its service built
    from the settings as the command line builds its own (so the same models, thresholds
    and enrolment policy answer), with a key of the default namespace."""
    token = KeyService(SQLiteStore(Path(db))).create("cli-parity", "default").token
    with client_for(create_app(Settings(db=str(db)))) as client:
        client.headers.update(auth(token))
        yield client
