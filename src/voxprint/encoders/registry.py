"""Encoders by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from voxprint.encoders.base import SpeakerEncoder
from voxprint.encoders.campplus import CampPlusEncoder
from voxprint.encoders.ge2e import Ge2eEncoder
from voxprint.encoders.hub import download, is_hub_reference, parse_hub_reference
from voxprint.errors import UnknownEncoderError

logger = logging.getLogger(__name__)

ENCODERS: dict[str, Callable[..., SpeakerEncoder]] = {
    "campplus": CampPlusEncoder,
    "ge2e": Ge2eEncoder,
}

DEFAULT_ENCODER = "campplus"


def available_encoders() -> list[str]:
    """Names :func:`load_encoder` accepts, sorted."""
    return sorted(ENCODERS)


def load_encoder(name: str, weights: str | Path | None = None) -> SpeakerEncoder:
    """Build a new encoder by name (loads its weights; nothing is cached).

    ``weights`` overrides the bundled weight file: a local path, or a hub
    reference such as ``modelscope:owner/repo/file.pt`` (downloaded with the
    hub's client; see :mod:`voxprint.encoders.hub`).

    Raises :class:`UnknownEncoderError` for a name not in :data:`ENCODERS`, and
    :class:`WeightsNotFoundError` when the encoder's weights are not installed.
    """
    factory = ENCODERS.get(name)
    if factory is None:
        choices = ", ".join(available_encoders())
        raise UnknownEncoderError(f"unknown encoder {name!r}; choose one of: {choices}")
    logger.debug("loading encoder %s", name)
    if weights is None:
        return factory()
    if isinstance(weights, str) and is_hub_reference(weights):
        return factory(download(parse_hub_reference(weights)))
    return factory(Path(weights))
