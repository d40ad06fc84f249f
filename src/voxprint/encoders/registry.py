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


#: GE2E's share of the ``campplus+ge2e`` cosine (docs/benchmarks.md, "A second encoder for
#: short speech").
GE2E_FUSION_WEIGHT = 0.3
#: GE2E's mean embedding over the development domains (``bench/fit_fusion.py``), taken off
#: before fusing: it is why strangers' GE2E cosines sit near 0.6.
GE2E_CENTRE_FILE = Path(__file__).with_name("ge2e_centre.npy")


def _campplus_ge2e(**campplus_options: Any) -> SpeakerEncoder:
    import numpy as np

    from voxprint.encoders.fused import FusedEncoder, FusionPart

    if not GE2E_CENTRE_FILE.is_file():
        raise WeightsNotFoundError(f"the GE2E centre is missing: {GE2E_CENTRE_FILE}")
    centre = np.load(GE2E_CENTRE_FILE, allow_pickle=False)
    return FusedEncoder(
        "campplus+ge2e",
        [
            FusionPart(_campplus(**campplus_options), 1.0 - GE2E_FUSION_WEIGHT),
            FusionPart(
                _ge2e(num_threads=campplus_options.get("num_threads")),
                GE2E_FUSION_WEIGHT,
                centre,
            ),
        ],
    )


def _trained(path: Path) -> SpeakerEncoder:
    from voxprint.encoders.trained import load_trained_encoder  # imports torch

    return load_trained_encoder(path)


ENCODERS: dict[str, Callable[..., SpeakerEncoder]] = {
    "campplus": _campplus,
    "ge2e": _ge2e,
    "campplus+ge2e": _campplus_ge2e,
}

DEFAULT_ENCODER = "campplus"

#: Encoders that only run their bundled weights, with why a weights file is refused.
BUNDLED_ONLY: dict[str, str] = {
    "campplus+ge2e": (
        "campplus+ge2e uses the bundled weights of both encoders; "
        "pass weights to campplus or ge2e alone"
    ),
}

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
    if weights is not None and name in BUNDLED_ONLY:
        raise InvalidParameterError(BUNDLED_ONLY[name])
    logger.debug("loading encoder %s", name)
    kwargs = _option_kwargs(name, options or EncoderOptions())
    if weights is None:
        return factory(**kwargs)
    if isinstance(weights, str) and is_hub_reference(weights):
        return factory(download(parse_hub_reference(weights)), **kwargs)
    return factory(Path(weights), **kwargs)


#: Encoders that take :class:`EncoderOptions` as keyword arguments.
OPTION_ENCODERS = frozenset({"campplus", "campplus+ge2e"})


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


def checkpoint_path(name: str) -> Path:
    """The trained checkpoint that the encoder name ``name`` stands for, checked without
    loading it: an :class:`UnknownEncoderError` when it is neither a built-in encoder nor
    a checkpoint file name, a :class:`WeightsNotFoundError` when the file is missing."""
    path = Path(name)
    if path.suffix.lower() not in CHECKPOINT_LOADERS:
        choices = ", ".join(available_encoders())
        suffixes = ", ".join(sorted(CHECKPOINT_LOADERS))
        raise UnknownEncoderError(
            f"unknown encoder {name!r}; choose one of: {choices}, "
            f"or give the path of a trained checkpoint ({suffixes})"
        )
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint not found: {path}")
    return path


def _load_checkpoint(name: str, weights: str | Path | None) -> SpeakerEncoder:
    if weights is not None and Path(name).suffix.lower() in CHECKPOINT_LOADERS:
        raise InvalidParameterError("a checkpoint holds its own weights; do not pass weights")
    path = checkpoint_path(name)
    logger.debug("loading encoder checkpoint %s", path)
    return CHECKPOINT_LOADERS[path.suffix.lower()](path)
