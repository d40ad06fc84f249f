"""Service settings, read from ``VOXPRINT_*`` environment variables (pydantic-settings).

This is the only place settings are read; the core gets plain typed values from
:meth:`ServiceSettings.service_options`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voxprint.audio import AudioLimits
from voxprint.bootstrap import ServiceOptions
from voxprint.encoders.options import EncoderOptions

MB = 1024 * 1024


class ServiceSettings(BaseSettings):
    """Everything ``voxprint serve`` can be told; each field is ``VOXPRINT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="VOXPRINT_", frozen=True, extra="ignore")

    db: str | None = Field(None, description="Store path or URL (default: per-user data folder).")
    model: str = Field("campplus", description="Encoder name or a trained checkpoint path.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    require_api_key: bool = Field(True, description="Every route but health needs a key.")
    enroll_seconds: float = Field(20.0, ge=0, description="Net speech to become enrolled.")
    min_speech_seconds: float = Field(1.0, ge=0, description="Least speech in any clip.")
    max_upload_bytes: int = Field(50 * MB, gt=0, description="Largest native request body.")
    max_audio_seconds: float = Field(900.0, gt=0, description="Longest audio accepted.")
    azure_max_bytes: int = Field(5 * MB, gt=0, description="Azure routes: largest body.")
    azure_enroll_seconds: float = Field(20.0, ge=0, description="Azure routes: enrolment speech.")
    azure_min_seconds: float = Field(4.0, ge=0, description="Azure routes: verify/identify speech.")
    azure_max_enroll_audio_seconds: float = Field(
        300.0, gt=0, description="Azure routes: most audio summed over a profile's enrolments."
    )
    inference_workers: int = Field(2, ge=1, le=64, description="Inference jobs run at once.")
    inference_queue: int = Field(64, ge=0, description="Jobs that may wait; more get 429.")
    live_max_sessions: int = Field(
        32, ge=1, description="WebSocket sessions open at once; more are refused (1013)."
    )
    stream_idle_seconds: float = Field(300.0, gt=0, description="Idle audio streams expire.")
    stream_max_count: int = Field(16, ge=1, description="Open audio streams per namespace.")
    stream_max_namespace_bytes: int = Field(
        100 * MB, gt=0, description="Bytes all of a namespace's audio streams may hold."
    )
    phrase_recognizer: str = Field(
        "pocketsphinx", description="Phrase check for passphrases and spoken challenges."
    )
    passphrase_clips: int = Field(
        3, ge=1, le=50, description="Passphrase clips that enrol a text-dependent profile."
    )
    challenge_ttl_seconds: float = Field(
        120.0, gt=0, le=3600, description="How long a spoken challenge can be answered."
    )
    log_json: bool = Field(True, description="Request logs as JSON lines.")
    campplus_runtime: str | None = Field(
        None, description="CAM++ runtime: auto (measured), onnx, openvino, openvino-bf16, torch."
    )
    quantize: str | None = Field(None, description="CAM++ quantisation: none or int8.")
    num_threads: int | None = Field(None, ge=1, description="Encoder threads per call.")

    def service_options(self) -> ServiceOptions:
        return ServiceOptions(
            db=self.db,
            model=self.model,
            enrollment_speech_seconds=self.enroll_seconds,
            min_speech_seconds=self.min_speech_seconds,
            limits=AudioLimits(max_bytes=self.max_upload_bytes, max_seconds=self.max_audio_seconds),
            encoder=EncoderOptions(
                runtime=self.campplus_runtime,
                quantize=self.quantize,
                num_threads=self.num_threads,
            ),
        )
