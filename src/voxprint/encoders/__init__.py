"""Speaker encoders: speech in, fixed-size L2-normalised embedding out.

Importing this package loads no network and no torch; the encoder classes are imported
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxprint.encoders.base import SpeakerEncoder
from voxprint.encoders.registry import (
    DEFAULT_ENCODER,
    ENCODERS,
    available_encoders,
    load_encoder,
)

if TYPE_CHECKING:
    from voxprint.encoders.campplus import CampPlusEncoder
    from voxprint.encoders.ge2e import Ge2eEncoder

#: Classes exported from modules imported on first use (the GE2E module imports torch).
_LAZY = {
    "CampPlusEncoder": "voxprint.encoders.campplus",
    "Ge2eEncoder": "voxprint.encoders.ge2e",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "CampPlusEncoder",
    "Ge2eEncoder",
    "SpeakerEncoder",
    "available_encoders",
    "load_encoder",
]
