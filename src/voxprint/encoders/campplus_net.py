"""The CAM++ speaker-embedding network (Wang et al., 2023, "CAM++: A Fast and
Efficient Network for Speaker Verification Using Context-Aware Masking").

Layout, with the ``state_dict`` prefixes the pretrained 3D-Speaker weights use:

* ``head`` — a small 2-D convolutional ResNet over (frequency, time) that shrinks
  the frequency axis eightfold (80 bins → 10) and flattens channels × frequency
  into a 1-D feature sequence of 320 channels.
* ``xvector.tdnn`` — a stride-2 time-delay layer down to 128 channels.
* ``xvector.block{1,2,3}`` — densely connected TDNN blocks whose layers each apply
  a context-aware mask (from utterance-level plus 100-frame segment-level means)
  to a local convolution; each followed by ``xvector.transit{1,2,3}`` halving the
  channels.
* ``xvector.out_nonlinear`` → ``xvector.stats`` (mean and standard deviation over
  time) → ``xvector.dense`` (the embedding).

The module names below are fixed by the weights file; the classes are this
project's own. The network is trainable as written (no inference-only shortcuts).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from voxprint.encoders.campplus_config import CampPlusConfig  # re-exported


class BatchNormReLU(nn.Module):
    """Batch norm then ReLU over ``(batch, channels, time)``; weights under ``batchnorm``."""

    def __init__(self, channels: int, *, affine: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels, affine=affine)
        self.apply_relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.batchnorm(x)
        return F.relu(x) if self.apply_relu else x


class ResidualBlock2d(nn.Module):
    """Two 3×3 convolutions with a residual path; ``stride`` subsamples frequency only."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=(stride, 1), padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class FrequencyHead(nn.Module):
    """2-D convolutional front end (FCM).

    Input ``(batch, feat_dim, frames)``; output ``(batch, channels * feat_dim // 8, frames)``.
    """

    def __init__(self, feat_dim: int, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(
            ResidualBlock2d(channels, channels, 2), ResidualBlock2d(channels, channels, 1)
        )
        self.layer2 = nn.Sequential(
            ResidualBlock2d(channels, channels, 2), ResidualBlock2d(channels, channels, 1)
        )
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * ((feat_dim + 7) // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        y = self.layer2(self.layer1(y))
        y = F.relu(self.bn2(self.conv2(y)))
        batch, channels, freq, frames = y.shape
        return y.reshape(batch, channels * freq, frames)


class TimeDelayLayer(nn.Module):
    """1-D convolution with "same" padding, then batch norm and ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
    ) -> None:
        super().__init__()
        self.linear = nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            bias=False,
        )
        self.nonlinear = BatchNormReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class ContextAwareMask(nn.Module):
    """Local dilated convolution gated by a mask computed from wider context.

    The context of each frame is the utterance mean plus the mean of the
    ``segment_length``-frame segment it falls in.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        segment_length: int,
        reduction: int = 2,
    ) -> None:
        super().__init__()
        self.segment_length = segment_length
        self.linear_local = nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            padding=(kernel_size - 1) // 2 * dilation,
            dilation=dilation,
            bias=False,
        )
        self.linear1 = nn.Conv1d(in_channels, in_channels // reduction, 1)
        self.linear2 = nn.Conv1d(in_channels // reduction, out_channels, 1)

    def _segment_means(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        means = F.avg_pool1d(
            x, kernel_size=self.segment_length, stride=self.segment_length, ceil_mode=True
        )
        return means.repeat_interleave(self.segment_length, dim=-1)[..., :frames]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = self.linear_local(x)
        context = x.mean(dim=-1, keepdim=True) + self._segment_means(x)
        mask = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return local * mask


class DenseTdnnLayer(nn.Module):
    """Bottleneck (BN-ReLU-1×1 conv-BN-ReLU) followed by a context-aware masked TDNN."""

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        bottleneck_channels: int,
        kernel_size: int,
        dilation: int,
        segment_length: int,
    ) -> None:
        super().__init__()
        self.nonlinear1 = BatchNormReLU(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bottleneck_channels, 1, bias=False)
        self.nonlinear2 = BatchNormReLU(bottleneck_channels)
        self.cam_layer = ContextAwareMask(
            bottleneck_channels, growth_rate, kernel_size, dilation, segment_length
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class DenseTdnnBlock(nn.Module):
    """Densely connected stack: every layer sees the concatenation of all earlier outputs.

    Input ``(batch, C, T)``; output ``(batch, C + num_layers * growth_rate, T)``.
    """

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bottleneck_channels: int,
        kernel_size: int,
        dilation: int,
        segment_length: int,
    ) -> None:
        super().__init__()
        self.out_channels = in_channels + num_layers * growth_rate
        for index in range(num_layers):
            layer = DenseTdnnLayer(
                in_channels + index * growth_rate,
                growth_rate,
                bottleneck_channels,
                kernel_size,
                dilation,
                segment_length,
            )
            self.add_module(f"tdnnd{index + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    """BN-ReLU then a 1×1 convolution that changes the channel count."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nonlinear = BatchNormReLU(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatisticsPooling(nn.Module):
    """``(batch, C, T)`` → ``(batch, 2C)``: mean and unbiased standard deviation over time."""

    def __init__(self, single_frame_std: float = 1e-2) -> None:
        super().__init__()
        self.single_frame_std = single_frame_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1)
        if x.shape[-1] > 1:
            std = x.std(dim=-1, unbiased=True)
        else:
            std = torch.full_like(mean, self.single_frame_std)
        return torch.cat([mean, std], dim=-1)


class EmbeddingLayer(nn.Module):
    """1×1 projection of pooled statistics, then affine-free batch norm (optionally ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, *, relu: bool) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = BatchNormReLU(out_channels, affine=False, relu=relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        projected = self.linear(x.unsqueeze(-1)).squeeze(-1)
        return self.nonlinear(projected)


class CampPlusNet(nn.Module):
    """CAM++ network.

    ``forward`` takes mean-normalised fbank features ``(batch, frames, feat_dim)``
    float32 and returns un-normalised embeddings ``(batch, embedding_size)``.
    """

    def __init__(self, config: CampPlusConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else CampPlusConfig()
        self.config = cfg
        self.head = FrequencyHead(cfg.feat_dim, cfg.head_channels)

        xvector = nn.Sequential()
        xvector.add_module(
            "tdnn", TimeDelayLayer(self.head.out_channels, cfg.init_channels, 5, stride=2)
        )
        channels = cfg.init_channels
        for index, (num_layers, kernel_size, dilation) in enumerate(cfg.blocks, start=1):
            block = DenseTdnnBlock(
                num_layers,
                channels,
                cfg.growth_rate,
                cfg.bottleneck_scale * cfg.growth_rate,
                kernel_size,
                dilation,
                cfg.segment_length,
            )
            xvector.add_module(f"block{index}", block)
            channels = block.out_channels // 2
            xvector.add_module(f"transit{index}", TransitLayer(block.out_channels, channels))
        xvector.add_module("out_nonlinear", BatchNormReLU(channels))
        xvector.add_module("stats", StatisticsPooling())
        xvector.add_module(
            "dense", EmbeddingLayer(channels * 2, cfg.embedding_size, relu=cfg.embedding_relu)
        )
        self.xvector = xvector
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv1d | nn.Linear):
                nn.init.kaiming_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.head(features.transpose(1, 2))
        result: torch.Tensor = self.xvector(x)
        return result
