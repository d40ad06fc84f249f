"""ResNet d-vector network (after the KAIST speaker-recognition tutorial).

A ResNet-18/34 of basic residual blocks over log-mel filterbank "images", with
thin channel widths (16-32-64-128 by default, as in thin-ResNet), pooled over
time and frequency, then a linear layer whose output is the speaker embedding
(the d-vector). The classifier that trains it lives in :mod:`voxprint.training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from voxprint.errors import InvalidParameterError

#: Residual blocks per stage for each supported depth.
RESNET_STAGES: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
}

POOLINGS = ("mean", "stats")


@dataclass(frozen=True)
class ResNetConfig:
    """Shape of a :class:`ResNetDVector`.

    ``pooling``: ``"mean"`` averages the last feature map over time and frequency
    (the tutorial); ``"stats"`` concatenates the mean and standard deviation over
    time of the frequency-flattened map (x-vector style statistics pooling).
    """

    depth: int = 34
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    n_mels: int = 40
    embedding_dim: int = 128
    pooling: str = "stats"
    #: Stride of the first convolution: 1 as in the tutorial, 2 to quarter the cost.
    stem_stride: int = 1

    def __post_init__(self) -> None:
        if self.depth not in RESNET_STAGES:
            choices = ", ".join(str(d) for d in sorted(RESNET_STAGES))
            raise InvalidParameterError(f"ResNet depth must be one of {choices}, got {self.depth}")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise InvalidParameterError("ResNet channels must be four positive widths")
        if self.pooling not in POOLINGS:
            raise InvalidParameterError(f"pooling must be one of {', '.join(POOLINGS)}")
        if self.stem_stride not in (1, 2):
            raise InvalidParameterError("stem_stride must be 1 or 2")
        if self.n_mels < 8 or self.embedding_dim < 2:
            raise InvalidParameterError("n_mels must be at least 8 and embedding_dim at least 2")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetDVector(nn.Module):
    """Filterbank features ``(batch, frames, n_mels)`` → embeddings ``(batch, embedding_dim)``."""

    def __init__(self, config: ResNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or ResNetConfig()
        self.config = cfg
        first = cfg.channels[0]
        self.stem = nn.Sequential(
            nn.Conv2d(1, first, 3, cfg.stem_stride, 1, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        in_channels = first
        for index, (blocks, width) in enumerate(
            zip(RESNET_STAGES[cfg.depth], cfg.channels, strict=True)
        ):
            stride = 1 if index == 0 else 2
            layers: list[nn.Module] = []
            for block in range(blocks):
                layers.append(BasicBlock(in_channels, width, stride if block == 0 else 1))
                in_channels = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        freq_out = cfg.n_mels
        for _ in range(3 if cfg.stem_stride == 1 else 4):
            freq_out = (freq_out + 1) // 2
        pooled = in_channels if cfg.pooling == "mean" else 2 * in_channels * freq_out
        self.embedding = nn.Linear(pooled, cfg.embedding_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(features.unsqueeze(1)))  # (batch, channels, frames, freq)
        if self.config.pooling == "mean":
            pooled = x.mean(dim=(2, 3))
        else:
            frames = x.permute(0, 2, 1, 3).flatten(2)  # (batch, frames, channels * freq)
            pooled = torch.cat([frames.mean(dim=1), frames.std(dim=1, unbiased=False)], dim=1)
        result: torch.Tensor = self.embedding(pooled)
        return result
