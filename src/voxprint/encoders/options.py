"""How an encoder runs: typed options, passed in by the edges (CLI, service settings)."""

from __future__ import annotations

from dataclasses import dataclass

from voxprint.errors import InvalidParameterError


@dataclass(frozen=True)
class EncoderOptions:
    """Runtime choices for encoders that have them (CAM++); ``None`` means the default.

    ``runtime``: ``"auto"`` (the engines measured fastest on this CPU), ``"onnx"``,
    ``"openvino"``, ``"openvino-bf16"`` or ``"torch"``;
    ``quantize``: ``"none"`` or ``"int8"``;
    ``num_threads``: intra-op threads of one call.
    """

    runtime: str | None = None
    quantize: str | None = None
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.num_threads is not None and self.num_threads < 1:
            raise InvalidParameterError(f"num_threads must be at least 1, got {self.num_threads}")

    @property
    def is_default(self) -> bool:
        return self == EncoderOptions()
