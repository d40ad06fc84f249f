"""Encoders by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voxprint.encoders.base import SpeakerEncoder
from voxprint.encoders.hub import download, is_hub_reference, parse_hub_reference
from voxprint.encoders.options import EncoderOptions
from voxprint.errors import InvalidParameterError, UnknownEncoderError, WeightsNotFoundError

logger = logging.getLogger(__name__)


def _campplus(*args: Any, **kwargs: Any) -> SpeakerEncoder:
    from voxprint.encoders.campplus import CampPlusEncoder

    return CampPlusEncoder(*args, **kwargs)


def _ge2e(*args: Any, **kwargs: Any) -> SpeakerEncoder:
    from voxprint.encoders.ge2e import Ge2eEncoder  # imports torch

    return Ge2eEncoder(*args, **kwargs)


def _trained(path: Path) -> SpeakerEncoder:
    from voxprint.encoders.trained import load_trained_encoder  # imports torch

    return load_trained_encoder(path)


ENCODERS: dict[str, Callable[..., SpeakerEncoder]] = {
    "campplus": _campplus,
    "ge2e": _ge2e,
}

DEFAULT_ENCODER = "campplus"

#: Encoders saved as files (``voxprint train`` checkpoints), by file suffix.
CHECKPOINT_LOADERS: dict[str, Callable[[Path], SpeakerEncoder]] = {
    ".pt": _trained,
}


def available_encoders() -> list[str]:
    """Names :func:`load_encoder` accepts, sorted."""
    return sorted(ENCODERS)


def load_encoder(
    name: str, weights: str | Path | None = None, options: EncoderOptions | None = None
) -> SpeakerEncoder:
    """Build a new encoder by name or checkpoint path (loads its weights; nothing is cached).

    ``name`` is a key of :data:`ENCODERS` or the path of a trained checkpoint whose
    suffix is in :data:`CHECKPOINT_LOADERS` (``voxprint train``'s ``best.pt``).

    ``weights`` overrides the bundled weight file: a local path, or a hub
    reference such as ``modelscope:owner/repo/file.pt`` (downloaded with the
    hub's client; see :mod:`voxprint.encoders.hub`).

    ``options`` (runtime, quantisation, threads) go to encoders that take them
    (:data:`OPTION_ENCODERS`); other encoders refuse non-default options.

    Raises :class:`UnknownEncoderError` for a name not in :data:`ENCODERS`, and
    :class:`WeightsNotFoundError` when the encoder's weights are not installed.
    """
    factory = ENCODERS.get(name)
    if factory is None:
        return _load_checkpoint(name, weights)
    logger.debug("loading encoder %s", name)
    kwargs = _option_kwargs(name, options or EncoderOptions())
    if weights is None:
        return factory(**kwargs)
    if isinstance(weights, str) and is_hub_reference(weights):
        return factory(download(parse_hub_reference(weights)), **kwargs)
    return factory(Path(weights), **kwargs)


#: Encoders that take :class:`EncoderOptions` as keyword arguments.
OPTION_ENCODERS = frozenset({"campplus"})


def _option_kwargs(name: str, options: EncoderOptions) -> dict[str, object]:
    if name in OPTION_ENCODERS:
        return {
            "runtime": options.runtime,
            "quantize": options.quantize,
            "num_threads": options.num_threads,
        }
    if not options.is_default:
        raise InvalidParameterError(f"encoder {name!r} has no runtime options; got {options}")
    return {}


def _load_checkpoint(name: str, weights: str | Path | None) -> SpeakerEncoder:
    path = Path(name)
    loader = CHECKPOINT_LOADERS.get(path.suffix.lower())
    if loader is None:
        choices = ", ".join(available_encoders())
        suffixes = ", ".join(sorted(CHECKPOINT_LOADERS))
        raise UnknownEncoderError(
            f"unknown encoder {name!r}; choose one of: {choices}, "
            f"or give the path of a trained checkpoint ({suffixes})"
        )
    if weights is not None:
        raise InvalidParameterError("a checkpoint holds its own weights; do not pass weights")
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint not found: {path}")
    logger.debug("loading encoder checkpoint %s", path)
    return loader(path)
