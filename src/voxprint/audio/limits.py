"""Size and duration limits applied to audio before and while it is decoded."""

from __future__ import annotations

import math
from dataclasses import dataclass

from voxprint.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    InvalidParameterError,
    InvalidSampleRateError,
)

#: Sample rates accepted on input, in Hz (inclusive).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000


@dataclass(frozen=True)
class AudioLimits:
    """Upper bounds that protect the process from oversized input.

    ``max_bytes`` is checked before decoding: against the file size for paths,
    ``len()`` for bytes-like input, and by reading at most ``max_bytes + 1``
    bytes from file-like objects. It does not apply to ``(array, rate)`` input,
    which is already in memory. ``max_seconds`` is checked on the decoded
    duration; decoding stops as soon as it is exceeded.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_seconds: float = 4 * 3600.0

    def __post_init__(self) -> None:
        if isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int):
            raise InvalidParameterError(f"max_bytes must be an int, got {self.max_bytes!r}")
        if self.max_bytes <= 0:
            raise InvalidParameterError(f"max_bytes must be positive, got {self.max_bytes}")
        if not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise InvalidParameterError(
                f"max_seconds must be a positive finite number, got {self.max_seconds!r}"
            )

    def check_bytes(self, size: int, what: str = "audio input", *, at_least: bool = False) -> None:
        """Raise ``AudioTooLargeError`` when ``size`` bytes is over ``max_bytes``.

        ``at_least`` says that ``size`` is a lower bound (a stream that was not read to its end).
        """
        if size > self.max_bytes:
            limit = _format_bytes(self.max_bytes)
            amount = f"more than {limit}" if at_least else _format_bytes(size)
            raise AudioTooLargeError(
                f"{what} is {amount}, over the {limit} limit (setting max_upload_bytes, "
                "VOXPRINT_MAX_UPLOAD_BYTES)"
            )

    def check_seconds(self, seconds: float) -> None:
        """Raise ``AudioTooLongError`` when ``seconds`` is over ``max_seconds``."""
        if seconds > self.max_seconds:
            raise AudioTooLongError(
                f"audio is longer than the {self.max_seconds:g} s limit"
                f" (setting max_audio_seconds, VOXPRINT_MAX_AUDIO_SECONDS): at least "
                f"{seconds:.2f} s"
            )


def check_sample_rate(rate: int, what: str = "audio sample rate") -> None:
    """Raise ``InvalidSampleRateError`` unless ``MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE``."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidSampleRateError(
            f"{what} {rate} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz"
        )


def _format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
