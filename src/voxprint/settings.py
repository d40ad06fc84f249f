"""Every setting voxprint reads from its environment, in one place.

:class:`Settings` (pydantic-settings) declares each one once: its ``VOXPRINT_*`` variable,
type, default and meaning. The command line and the REST service both read it here and
nowhere else; a command-line option given explicitly wins over the variable
(:func:`load_settings`). The core never imports this module: it gets plain typed values
(:class:`~voxprint.bootstrap.ServiceOptions`, :class:`~voxprint.encoders.options.EncoderOptions`,
a data folder as a :class:`~pathlib.Path`).

``voxprint serve`` hands its settings to uvicorn's worker processes through
:meth:`Settings.worker_environment`, the only place the environment is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voxprint.audio import AudioLimits
from voxprint.bootstrap import ServiceOptions
from voxprint.decision import DEFAULT_RIVAL_WEIGHT
from voxprint.encoders.options import EncoderOptions
from voxprint.encoders.registry import DEFAULT_ENCODER
from voxprint.enrollment import DEFAULT_ENROLLMENT_SPEECH_SECONDS, MAX_ENROLLMENT_SPEECH_SECONDS
from voxprint.errors import InvalidParameterError
from voxprint.passphrase import DEFAULT_RECOGNIZER
from voxprint.pipeline import DEFAULT_MIN_SPEECH_SECONDS

MB = 1024 * 1024
ENV_PREFIX = "VOXPRINT_"
#: Where the shared speech data is looked for when ``VOXPRINT_DATA`` is not set: from the
#: working directory, then beside a source checkout of voxprint.
SHARED_DATA = Path("shared") / "data"
#: The longest an idle audio stream may be kept (a week): an expiry is a date.
MAX_STREAM_IDLE_SECONDS = 7 * 24 * 3600.0


class Settings(BaseSettings):
    """Everything voxprint can be told through its environment; each field is
    ``VOXPRINT_<NAME>`` (``RAY_ADDRESS`` is also read for ``ray_address``)."""

    # No setting means "infinitely" or "not a number": inf where a limit has only a lower
    # bound was taken, and an idle time of inf made every new audio stream a 500.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,
        allow_inf_nan=False,
    )

    # What every command and the service share
    db: str | None = Field(None, description="Store path or URL (default: per-user data folder).")
    model: str = Field(DEFAULT_ENCODER, description="Encoder name or a trained checkpoint path.")
    enroll_seconds: float = Field(
        DEFAULT_ENROLLMENT_SPEECH_SECONDS,
        ge=0,
        le=MAX_ENROLLMENT_SPEECH_SECONDS,
        description="Net speech to become enrolled.",
    )
    min_speech_seconds: float = Field(
        DEFAULT_MIN_SPEECH_SECONDS, ge=0, description="Least speech in any clip."
    )
    campplus_runtime: str | None = Field(
        None, description="CAM++ runtime: auto (measured), onnx, openvino, openvino-bf16, torch."
    )
    quantize: str | None = Field(None, description="CAM++ quantisation: none or int8.")
    num_threads: int | None = Field(None, ge=1, description="Encoder threads per call.")
    rival_weight: float = Field(
        DEFAULT_RIVAL_WEIGHT,
        ge=0,
        le=1000,
        description="How much verify weighs the namespace's other enrolled profiles, "
        "together, against a stranger (0: against a stranger only).",
    )
    phrase_recognizer: str = Field(
        DEFAULT_RECOGNIZER,
        description="Phrase check for passphrases and spoken challenges: auto "
        "(pocketsphinx+whisper where the whisper extra is installed, else pocketsphinx), "
        "pocketsphinx, whisper or pocketsphinx+whisper (the last two need the extra).",
    )
    # The command line
    debug: bool = Field(False, description="Log progress to stderr, as -v does.")
    data: Path | None = Field(None, description="Shared speech data (default: ../shared/data).")
    engine: str = Field("local", description="Where enroll-dir and eval embed files: local, ray.")
    ray_address: str | None = Field(
        None,
        validation_alias=AliasChoices("VOXPRINT_RAY_ADDRESS", "RAY_ADDRESS"),
        description="Ray cluster for the ray engine (default: a local Ray).",
    )
    api_key: SecretStr | None = Field(None, description="Key that `listen --server` sends.")
    # The service
    host: str = Field("127.0.0.1", description="Interface `serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port `serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes of `serve`.")
    require_api_key: bool = Field(True, description="Every route but health needs a key.")
    max_upload_bytes: int = Field(50 * MB, gt=0, description="Largest native request body.")
    max_audio_seconds: float = Field(900.0, gt=0, description="Longest audio accepted.")
    azure_max_bytes: int = Field(5 * MB, gt=0, description="Azure routes: largest body.")
    azure_enroll_seconds: float = Field(
        DEFAULT_ENROLLMENT_SPEECH_SECONDS,
        ge=0,
        le=MAX_ENROLLMENT_SPEECH_SECONDS,
        description="Azure routes: enrolment speech.",
    )
    azure_min_seconds: float = Field(
        4.0,
        ge=0,
        le=MAX_ENROLLMENT_SPEECH_SECONDS,
        description="Azure routes: verify/identify speech.",
    )
    azure_max_enroll_audio_seconds: float = Field(
        300.0, gt=0, description="Azure routes: most audio summed over a profile's enrolments."
    )
    inference_workers: int = Field(2, ge=1, le=64, description="Inference jobs run at once.")
    inference_queue: int = Field(64, ge=0, description="Jobs that may wait; more get 429.")
    live_max_sessions: int = Field(
        32, ge=1, description="WebSocket sessions open at once; more are refused (1013)."
    )
    stream_idle_seconds: float = Field(
        300.0, gt=0, le=MAX_STREAM_IDLE_SECONDS, description="Idle audio streams expire."
    )
    stream_max_count: int = Field(16, ge=1, description="Open audio streams per namespace.")
    stream_max_namespace_bytes: int = Field(
        100 * MB, gt=0, description="Bytes all of a namespace's audio streams may hold."
    )
    passphrase_clips: int = Field(
        3, ge=1, le=50, description="Passphrase clips that enrol a text-dependent profile."
    )
    challenge_ttl_seconds: float = Field(
        120.0, gt=0, le=3600, description="How long a spoken challenge can be answered."
    )
    log_json: bool = Field(True, description="Request logs as JSON lines.")

    # Names are checked here, when the settings are read, so that a misspelt one is refused
    # in one line naming its variable by every command and by `serve` before it starts:
    # not when a request first needs it (a server that answered every profile route 400).
    @field_validator("campplus_runtime")
    @classmethod
    def _known_runtime(cls, value: str | None) -> str | None:
        from voxprint.encoders.campplus_runtime import RUNTIMES

        return _one_of(value, RUNTIMES, "CAM++ runtime")

    @field_validator("quantize")
    @classmethod
    def _known_quantization(cls, value: str | None) -> str | None:
        from voxprint.encoders.campplus_runtime import QUANTIZATIONS

        return _one_of(value, QUANTIZATIONS, "quantisation")

    @field_validator("phrase_recognizer")
    @classmethod
    def _known_recognizer(cls, value: str) -> str:
        from voxprint.passphrase import RECOGNIZERS

        return _one_of(value, RECOGNIZERS, "phrase recogniser") or value

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        from voxprint.engines import ENGINES

        return _one_of(value, ENGINES, "engine") or value

    def encoder_options(self) -> EncoderOptions:
        """How the encoder runs (runtime, quantisation, threads)."""
        return EncoderOptions(
            runtime=self.campplus_runtime, quantize=self.quantize, num_threads=self.num_threads
        )

    def service_options(self, **overrides: Any) -> ServiceOptions:
        """The options of the REST service: its upload limits apply to every request."""
        return self.command_options(
            limits=AudioLimits(max_bytes=self.max_upload_bytes, max_seconds=self.max_audio_seconds),
            **{"approximate_search": True, **overrides},
        )

    def command_options(self, **overrides: Any) -> ServiceOptions:
        """The options of a command-line run: the user's own files are not held to the
        service's upload limits (only to the library's own bounds)."""
        values: dict[str, Any] = {
            "db": self.db,
            "model": self.model,
            "enrollment_speech_seconds": self.enroll_seconds,
            "min_speech_seconds": self.min_speech_seconds,
            "encoder": self.encoder_options(),
            "rival_weight": self.rival_weight,
            # A command runs once: scanning a large gallery beats building its index.
            "approximate_search": False,
        }
        return ServiceOptions(**{**values, **overrides})

    def data_folder(self) -> Path:
        """The shared speech data: ``VOXPRINT_DATA``, else ``../shared/data`` from the
        working directory, else beside the root of a source checkout of voxprint."""
        if self.data is not None:
            return self.data
        from_cwd = Path("..") / SHARED_DATA
        if from_cwd.is_dir():
            return from_cwd
        return Path(__file__).resolve().parents[2].parent / SHARED_DATA

    def worker_environment(self) -> dict[str, str]:
        """The ``VOXPRINT_*`` variables that rebuild these settings in another process
        (uvicorn's workers start from an import string and read only the environment).
        Unset optional fields are left out, so the other process sees their defaults."""
        environment: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            environment[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return environment


def _one_of(value: str | None, known: Iterable[str], what: str) -> str | None:
    """``value`` as the known name it spells, case and surrounding spaces aside
    (``ONNX`` is ``onnx``); an unknown name is refused, listing the known ones."""
    if value is None:
        return None
    names = {name.lower(): name for name in known}
    name = names.get(value.strip().lower())
    if name is None:
        raise ValueError(
            f"unknown {what} {value!r}; choose one of: {', '.join(sorted(names.values()))}"
        )
    return name


def load_settings(**given: Any) -> Settings:
    """The settings of this process: the environment, with every value in ``given`` that
    is not ``None`` winning over it (command-line options that were given).

    Settings are immutable, so asking again with the same values and environment returns
    the settings built last time (a command asks several times; each build costs about
    10 ms).

    Raises :class:`~voxprint.errors.InvalidParameterError` naming the variable (or option)
    and what is wrong with it, for a value that does not fit its setting.
    """
    options = {name: value for name, value in given.items() if value is not None}
    key = (tuple(sorted(options.items())), tuple(sorted(os.environ.items())))
    try:
        hash(key)
    except TypeError:  # an option value that cannot be part of a key: built afresh
        return _build_settings(options, given)
    if _last_built and _last_built[0][0] == key:
        return _last_built[0][1]
    built = _build_settings(options, given)
    _last_built[:] = [(key, built)]
    return built


#: The last settings :func:`load_settings` built, with the options and environment they
#: were built from.
_last_built: list[tuple[Any, Settings]] = []


def _build_settings(options: dict[str, Any], given: dict[str, Any]) -> Settings:
    try:
        return Settings(**options)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "?"
            where = field if field in given else f"{ENV_PREFIX}{field.upper()}"
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise InvalidParameterError("invalid setting " + "; ".join(problems)) from None


def hand_to_workers(settings: Settings) -> None:
    """Put ``settings`` into this process's environment for the worker processes it is
    about to start (``voxprint serve``)."""
    os.environ.update(settings.worker_environment())


def default_data_root() -> Path:
    """The shared speech data folder (``VOXPRINT_DATA``, else ``../shared/data``)."""
    return load_settings().data_folder()
