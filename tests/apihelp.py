"""Shared helpers for the service tests: a fake-model service, a client, WAV bytes.

``make_app`` builds the real app around a service with the tone-spectrum fake
encoder and energy VAD (no model weights), on a fresh SQLite file; API keys are on.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from voxprint.access import KeyService
from voxprint.api import ServiceSettings, create_app
from voxprint.enrollment import EnrollmentPolicy
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.store import SQLiteStore

from fakes import RATE, EnergyVad, ToneEncoder, tone_thresholds, voice


def wav_bytes(signal: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit PCM WAV bytes of a float signal."""
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def voice_wav(fundamental: float, seconds: float, *, seed: int = 0) -> bytes:
    return wav_bytes(voice(fundamental, seconds, seed=seed))


def fake_service(db: Path, *, enroll_seconds: float = 10.0) -> VoxprintService:
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    store = SQLiteStore(db)
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=enroll_seconds),
    )


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {"log_json": True, **overrides}
    return ServiceSettings(**values)


def make_app(db: Path, **overrides: Any):
    """(app, service) with the fake model; settings fields may be overridden."""
    service = fake_service(db)
    return create_app(settings(**overrides), service=service), service


def issue_key(service: VoxprintService, namespace: str = "default", name: str = "test") -> str:
    return KeyService(service.store).create(name, namespace).token


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_for(app) -> TestClient:
    """A client that runs the app's lifespan (use as a context manager)."""
    return TestClient(app, raise_server_exceptions=False)
