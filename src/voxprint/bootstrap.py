"""Composition root: builds a ready service from plain options (used by the CLI and the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from voxprint.access import KeyService
from voxprint.audio import AudioLimits
from voxprint.encoders import DEFAULT_ENCODER, load_encoder
from voxprint.enrollment import DEFAULT_ENROLLMENT_SPEECH_SECONDS, EnrollmentPolicy
from voxprint.errors import StoreError
from voxprint.operating_points import operating_point_for
from voxprint.pipeline import DEFAULT_MIN_SPEECH_SECONDS, EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.store import open_store
from voxprint.store.base import KeyStore
from voxprint.store.records import DEFAULT_NAMESPACE


def default_db_path() -> Path:
    """The per-user database: e.g. ``~/.local/share/voxprint/voxprint.db`` on Linux."""
    return platformdirs.user_data_path("voxprint") / "voxprint.db"


@dataclass(frozen=True)
class ServiceOptions:
    db: str | Path | None = None
    model: str = DEFAULT_ENCODER
    namespace: str = DEFAULT_NAMESPACE
    enrollment_speech_seconds: float = DEFAULT_ENROLLMENT_SPEECH_SECONDS
    min_speech_seconds: float = DEFAULT_MIN_SPEECH_SECONDS
    limits: AudioLimits = field(default_factory=AudioLimits)


def build_pipeline(options: ServiceOptions) -> EmbeddingPipeline:
    encoder = load_encoder(options.model)
    return EmbeddingPipeline(
        encoder,
        config=PipelineConfig(min_speech_seconds=options.min_speech_seconds, limits=options.limits),
    )


def build_service(
    options: ServiceOptions, pipeline: EmbeddingPipeline | None = None
) -> VoxprintService:
    pipeline = pipeline or build_pipeline(options)
    store = open_store(str(options.db or default_db_path()))
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        operating_point=operating_point_for(pipeline.encoder),
        enrollment=EnrollmentPolicy(options.enrollment_speech_seconds),
        namespace=options.namespace,
    )


def build_key_service(db: str | Path | None = None) -> KeyService:
    """API-key management on the store at ``db`` (no model is loaded)."""
    store = open_store(str(db or default_db_path()))
    if not isinstance(store, KeyStore):
        raise StoreError(f"the store at {db} cannot keep API keys")
    return KeyService(store)
