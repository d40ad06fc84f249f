"""Classification heads for speaker training: softmax cross-entropy and AAM softmax.

Each head maps embeddings ``(batch, dim)`` and labels ``(batch,)`` to a loss and
the logits used for accuracy. Only the embedding network is kept after training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from voxprint.errors import InvalidParameterError


class SoftmaxHead(nn.Module):
    """Batch norm, ReLU and a linear classifier over the embedding (the tutorial's head)."""

    def __init__(self, embedding_dim: int, n_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(embedding_dim)
        self.classifier = nn.Linear(embedding_dim, n_classes)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.classifier(F.relu(self.norm(embeddings)))
        return result

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(embeddings)
        return F.cross_entropy(logits, labels), logits


class AamSoftmaxHead(nn.Module):
    """Additive angular margin softmax (ArcFace): ``s * cos(theta + m)`` for the true class.

    The returned logits are ``s * cos(theta)`` without the margin (for accuracy).
    """

    def __init__(
        self, embedding_dim: int, n_classes: int, *, margin: float = 0.2, scale: float = 30.0
    ) -> None:
        super().__init__()
        if not 0.0 <= margin < math.pi / 2 or scale <= 0:
            raise InvalidParameterError("AAM needs 0 <= margin < pi/2 and a positive scale")
        self.margin = margin
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embeddings), F.normalize(self.weight))

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cosine = self.cosines(embeddings).clamp(-1.0 + 1e-7, 1.0 - 1e-7)
        sine = torch.sqrt(1.0 - cosine**2)
        with_margin = cosine * math.cos(self.margin) - sine * math.sin(self.margin)
        # Past theta = pi - m the margin would make cos(theta + m) grow again; use the
        # usual monotonic continuation there.
        threshold = math.cos(math.pi - self.margin)
        fallback = cosine - math.sin(math.pi - self.margin) * self.margin
        with_margin = torch.where(cosine > threshold, with_margin, fallback)
        one_hot = F.one_hot(labels, num_classes=self.weight.shape[0]).to(cosine.dtype)
        logits = self.scale * (one_hot * with_margin + (1.0 - one_hot) * cosine)
        return F.cross_entropy(logits, labels), self.scale * cosine


def build_head(
    loss: str, embedding_dim: int, n_classes: int, *, margin: float, scale: float
) -> nn.Module:
    match loss:
        case "softmax":
            return SoftmaxHead(embedding_dim, n_classes)
        case "aam":
            return AamSoftmaxHead(embedding_dim, n_classes, margin=margin, scale=scale)
        case _:
            raise InvalidParameterError(f"unknown loss {loss!r}; choose softmax or aam")
