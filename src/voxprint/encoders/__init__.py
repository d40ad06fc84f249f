"""Speaker encoders: speech in, fixed-size L2-normalised embedding out."""

from voxprint.encoders.base import SpeakerEncoder
from voxprint.encoders.campplus import CampPlusEncoder
from voxprint.encoders.ge2e import Ge2eEncoder
from voxprint.encoders.registry import (
    DEFAULT_ENCODER,
    ENCODERS,
    available_encoders,
    load_encoder,
)

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "CampPlusEncoder",
    "Ge2eEncoder",
    "SpeakerEncoder",
    "available_encoders",
    "load_encoder",
]
