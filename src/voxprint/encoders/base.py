"""The protocol every speaker encoder implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SpeakerEncoder(Protocol):
    """Turns speech into a fixed-size speaker embedding.

    ``name`` identifies the architecture family (``"campplus"``), ``version``
    identifies the exact weights (a profile enrolled with one version must not
    be scored with another). ``sample_rate`` is the rate ``embed`` expects.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono at ``sample_rate``, speech only.
        Returns ``(dimension,) float32``, L2-normalised.
        """
        ...
