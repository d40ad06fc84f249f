"""Two encoders heard together: their embeddings side by side, weighted.

Each part's unit embedding is optionally centred (a fixed mean embedding subtracted and
the result renormalised: GE2E's cosines between strangers sit near 0.6 because all its
embeddings share one direction), scaled by ``sqrt(weight)``, and the parts are
concatenated. The fused embedding is unit length and the cosine of two fused embeddings is
exactly ``Σ weight_i · cosine_i``: a score-level fusion that every consumer of embeddings
(the store, the gallery index, the score model) sees as one encoder. (For voiceprints
averaged from several fused embeddings it is close to that sum, not exactly it: each
part's average shrinks by its own amount.)

Why: encoders trained differently err on different short clips. On one-second words and
0.4 s digits, CAM++ with a third of GE2E's cosine errs about half as often as CAM++ alone,
while long clean speech stays where it was (docs/benchmarks.md, "A second encoder for
short speech").
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError, ModelError


@dataclass(frozen=True, eq=False)
class FusionPart:
    """One encoder of a fusion: its share ``weight`` of the cosine, and the ``centre``
    ``(dim,) float32`` subtracted from its embeddings first (``None``: used as it is)."""

    encoder: SpeakerEncoder
    weight: float
    centre: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise InvalidParameterError(f"fusion weights must be positive, got {self.weight}")
        if self.centre is not None:
            centre = np.array(self.centre, dtype=np.float32)  # a copy nobody else holds
            if centre.shape != (self.encoder.dimension,) or not np.all(np.isfinite(centre)):
                raise InvalidParameterError(
                    f"the centre of {self.encoder.name} must be {self.encoder.dimension} "
                    f"finite values, got shape {centre.shape}"
                )
            if float(np.linalg.norm(centre)) >= 1.0:
                raise InvalidParameterError("a centre must lie inside the unit sphere")
            centre.setflags(write=False)
            object.__setattr__(self, "centre", centre)

    @property
    def version(self) -> str:
        if self.centre is None:
            return f"{self.encoder.version}*{self.weight:g}"
        digest = hashlib.sha256(self.centre.tobytes()).hexdigest()[:8]
        return f"{self.encoder.version}-c{digest}*{self.weight:g}"

    def embed_batch(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """The part's rows ``(n, dim) float32``, centred and unit length (not yet weighted)."""
        batch = getattr(self.encoder, "embed_batch", None)
        if callable(batch):
            rows = np.asarray(batch(waveforms), dtype=np.float32)
        else:
            rows = np.stack([self.encoder.embed(w) for w in waveforms]).astype(np.float32)
        if rows.shape != (len(waveforms), self.encoder.dimension):
            raise ModelError(
                f"{self.encoder.name} returned embeddings of shape {rows.shape}, expected "
                f"({len(waveforms)}, {self.encoder.dimension})"
            )
        if self.centre is None:
            return rows
        centred = rows - self.centre
        # The centre lies inside the unit sphere, so a unit row never lands on it.
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)


class FusedEncoder:
    """``parts``: weights summing to 1, every encoder at one sample rate. ``name`` names
    the fusion (e.g. ``"campplus+ge2e"``)."""

    def __init__(self, name: str, parts: Sequence[FusionPart]) -> None:
        if len(parts) < 2:
            raise InvalidParameterError("a fused encoder needs at least two encoders")
        weights = [part.weight for part in parts]
        if not math.isclose(sum(weights), 1.0):
            raise InvalidParameterError(f"fusion weights must sum to 1, got {weights}")
        rates = {part.encoder.sample_rate for part in parts}
        if len(rates) != 1:
            raise InvalidParameterError(f"fused encoders must share a sample rate, got {rates}")
        self._name = name
        self._parts = tuple(parts)
        self._scales = np.array([math.sqrt(w) for w in weights], dtype=np.float32)
        self._version = "+".join(part.version for part in parts)

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return self._version

    @property
    def sample_rate(self) -> int:
        return self._parts[0].encoder.sample_rate

    @property
    def dimension(self) -> int:
        return sum(part.encoder.dimension for part in self._parts)

    @property
    def parts(self) -> tuple[FusionPart, ...]:
        """The fused encoders, in embedding order."""
        return self._parts

    @property
    def runtime_choice(self) -> Any:
        """The runtime choice of the first part that makes one (CAM++'s), else ``None``."""
        for part in self._parts:
            choice = getattr(part.encoder, "runtime_choice", None)
            if choice is not None:
                return choice
        return None

    def warm_up(self) -> None:
        """Warm every part that can be warmed (loads and compiles its engines)."""
        for part in self._parts:
            warm = getattr(part.encoder, "warm_up", None)
            if callable(warm):
                warm()

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono speech at ``sample_rate``.
        Returns ``(dimension,) float32``, L2-normalised: each part's (centred, unit)
        embedding times ``sqrt(weight)``, in the order of ``parts``.
        """
        return self.embed_batch([waveform])[0]

    def embed_batch(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Embed several utterances: ``n`` waveforms → ``(n, dimension) float32`` rows."""
        if len(waveforms) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pieces = [
            part.embed_batch(waveforms) * scale
            for part, scale in zip(self._parts, self._scales, strict=True)
        ]
        fused = np.concatenate(pieces, axis=1)
        # Each part is unit length, so the rows are too up to rounding; renormalise the
        # rounding away.
        return (fused / np.linalg.norm(fused, axis=1, keepdims=True)).astype(np.float32)
