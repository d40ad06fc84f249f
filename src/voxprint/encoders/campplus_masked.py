"""A length-masked inference forward pass of :class:`CampPlusNet`, for padded batches.

CAM++ is not padding-invariant: its context-aware masks average over the whole
utterance and over 100-frame segments, its statistics pooling averages over time,
and every convolution with a time extent above one sees its neighbours. So
utterances of different lengths cannot simply be zero-padded into one batch.

:class:`MaskedCampPlus` runs the same weights (it holds the :class:`CampPlusNet`
it was built from, nothing is copied) with a ``lengths`` input: padded frames are
set to zero before every convolution that looks across time, and every mean over
time counts only the real frames. Each row of a padded batch then gets the
embedding it would get alone (equal up to float rounding, checked by the tests).

The forward pass uses only operations that export to ONNX with dynamic batch and
time axes (no data-dependent Python branches).
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from voxprint.encoders.campplus_net import (
    BatchNormReLU,
    CampPlusNet,
    ContextAwareMask,
    DenseTdnnBlock,
    DenseTdnnLayer,
    EmbeddingLayer,
    FrequencyHead,
    ResidualBlock2d,
    StatisticsPooling,
    TimeDelayLayer,
    TransitLayer,
)


def frame_mask(lengths: torch.Tensor, frames: int | torch.Tensor) -> torch.Tensor:
    """``(batch, frames)`` float mask: 1 for the first ``lengths[b]`` frames, else 0."""
    positions = torch.arange(frames, device=lengths.device)  # type: ignore[arg-type]
    return (positions[None, :] < lengths[:, None]).to(torch.float32)


_M = TypeVar("_M", bound=nn.Module)


def _typed(module: object, kind: type[_M]) -> _M:
    """``module``, checked to be a ``kind`` (submodules are looked up by name)."""
    if not isinstance(module, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(module).__name__}")
    return module


def _residual(block: ResidualBlock2d, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    y = F.relu(block.bn1(block.conv1(x))) * mask
    y = block.bn2(block.conv2(y))
    return F.relu(y + block.shortcut(x)) * mask


def _head(head: FrequencyHead, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask4 = mask[:, None, None, :]
    x = features.transpose(1, 2).unsqueeze(1) * mask4
    y = F.relu(head.bn1(head.conv1(x))) * mask4
    for layer in (head.layer1, head.layer2):
        for block in layer:
            y = _residual(_typed(block, ResidualBlock2d), y, mask4)
    y = F.relu(head.bn2(head.conv2(y))) * mask4
    batch, channels, freq, frames = y.shape
    return y.reshape(batch, channels * freq, frames)


def _masked_mean(x: torch.Tensor, mask3: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return (x * mask3).sum(dim=-1, keepdim=True) / count


def _context_aware_mask(
    cam: ContextAwareMask, x: torch.Tensor, mask3: torch.Tensor, count: torch.Tensor
) -> torch.Tensor:
    x = x * mask3
    local = cam.linear_local(x)
    size = cam.segment_length
    # Segment means as sums over zero-padded, reshaped segments divided by their real
    # frame counts (no ceil-mode pooling: OpenVINO rejects a kernel longer than the input).
    batch, channels, frames = x.shape
    padding = (size - frames % size) % size
    segments = (frames + padding) // size
    sums = F.pad(x, (0, padding)).reshape(batch, channels, segments, size).sum(dim=-1)
    counts = F.pad(mask3, (0, padding)).reshape(batch, 1, segments, size).sum(dim=-1)
    segment = sums / counts.clamp(min=1e-12)
    segment = segment.unsqueeze(-1).expand(batch, channels, segments, size)
    segment = segment.reshape(batch, channels, segments * size)[..., :frames]
    context = x.sum(dim=-1, keepdim=True) / count + segment
    gate = torch.sigmoid(cam.linear2(F.relu(cam.linear1(context))))
    return local * gate * mask3


def pointwise_as_matmul(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1×1 ``Conv1d`` on ``(batch, C, T)`` written as a MatMul with the weight second,
    the form onnxruntime's dynamic int8 quantisation handles."""
    weight = conv.weight[:, :, 0]
    y = torch.matmul(x.transpose(1, 2), weight.t()).transpose(1, 2)
    return y if conv.bias is None else y + conv.bias[None, :, None]


def _dense_layer(
    layer: DenseTdnnLayer,
    x: torch.Tensor,
    mask3: torch.Tensor,
    count: torch.Tensor,
    matmul: bool,
) -> torch.Tensor:
    activated = layer.nonlinear1(x)
    bottleneck = (
        pointwise_as_matmul(layer.linear1, activated) if matmul else layer.linear1(activated)
    )
    hidden = layer.nonlinear2(bottleneck)
    return _context_aware_mask(layer.cam_layer, hidden, mask3, count)


class MaskedCampPlus(nn.Module):
    """Inference-only CAM++ over zero-padded batches.

    ``forward(features, lengths)``: ``features`` ``(batch, frames, feat_dim) float32``
    mean-normalised fbank (rows past ``lengths[b]`` are ignored), ``lengths``
    ``(batch,) int64`` real frame counts, each at least 1. Returns un-normalised
    embeddings ``(batch, embedding_size) float32``, row ``b`` equal (up to rounding)
    to ``network(features[b : b + 1, : lengths[b]])``.

    ``pointwise_matmul`` computes the dense layers' 1×1 bottleneck convolutions
    (most of the arithmetic after the 2-D head) as MatMuls, so that an exported
    graph can be int8-quantised dynamically; the result is the same.
    """

    def __init__(self, network: CampPlusNet, *, pointwise_matmul: bool = False) -> None:
        super().__init__()
        self.network = network.eval()
        self.pointwise_matmul = pointwise_matmul

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        net = self.network
        xvector = net.xvector
        mask = frame_mask(lengths, features.shape[1])
        x = _head(net.head, features, mask)

        x = _typed(xvector.tdnn, TimeDelayLayer)(x)
        # The stride-2 "same" convolution keeps ceil(length / 2) real frames.
        lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
        mask3 = frame_mask(lengths, x.shape[-1])[:, None, :]
        count = lengths.to(torch.float32)[:, None, None]

        for module in xvector.children():
            if isinstance(module, DenseTdnnBlock):
                for child in module.children():
                    layer = _typed(child, DenseTdnnLayer)
                    x = torch.cat(
                        [x, _dense_layer(layer, x, mask3, count, self.pointwise_matmul)], dim=1
                    )
            elif isinstance(module, TransitLayer):
                x = module(x)
        x = _typed(xvector.out_nonlinear, BatchNormReLU)(x)
        return self._pool_and_embed(x, mask3, count)

    def _pool_and_embed(
        self, x: torch.Tensor, mask3: torch.Tensor, count: torch.Tensor
    ) -> torch.Tensor:
        xvector = self.network.xvector
        mean = _masked_mean(x, mask3, count)
        squares = (((x - mean) * mask3) ** 2).sum(dim=-1, keepdim=True)
        variance = squares / (count - 1.0).clamp(min=1.0)
        floor = _typed(xvector.stats, StatisticsPooling).single_frame_std
        single_frame = torch.full_like(variance, floor**2)
        std = torch.sqrt(torch.where(count > 1.0, variance, single_frame))
        stats = torch.cat([mean, std], dim=1).squeeze(-1)
        result: torch.Tensor = _typed(xvector.dense, EmbeddingLayer)(stats)
        return result
