"""Encoders by name."""

from __future__ import annotations

import logging
from collections.abc import Callable

from voxprint.encoders.base import SpeakerEncoder
from voxprint.encoders.campplus import CampPlusEncoder
from voxprint.encoders.ge2e import Ge2eEncoder
from voxprint.errors import UnknownEncoderError

logger = logging.getLogger(__name__)

ENCODERS: dict[str, Callable[[], SpeakerEncoder]] = {
    "campplus": CampPlusEncoder,
    "ge2e": Ge2eEncoder,
}

DEFAULT_ENCODER = "campplus"


def available_encoders() -> list[str]:
    """Names :func:`load_encoder` accepts, sorted."""
    return sorted(ENCODERS)


def load_encoder(name: str) -> SpeakerEncoder:
    """Build a new encoder by name (loads its weights; nothing is cached).

    Raises :class:`UnknownEncoderError` for a name not in :data:`ENCODERS`, and
    :class:`WeightsNotFoundError` when the encoder's weights are not installed.
    """
    factory = ENCODERS.get(name)
    if factory is None:
        choices = ", ".join(available_encoders())
        raise UnknownEncoderError(f"unknown encoder {name!r}; choose one of: {choices}")
    logger.debug("loading encoder %s", name)
    return factory()
