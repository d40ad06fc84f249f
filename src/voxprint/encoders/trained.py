"""Encoders trained with ``voxprint train``: a checkpoint file is an encoder.

A checkpoint is a ``torch.save`` dict of plain containers and tensors (it loads
with ``weights_only=True``) holding the architecture, its arguments, the
embedding network's weights and, when training fitted one, the operating point
(threshold, calibration, impostor model) measured on the validation split::

    {"format": "voxprint-trained-encoder", "format_version": 1,
     "architecture": "resnet" | "campplus", "network": {...arguments...},
     "dimension": int, "state": {...state_dict...}, "operating_point": {...} | None,
     "speakers": [...], "config": {...}, "epoch": int}

The encoder's ``version`` is a hash of the weights, so profiles enrolled with one
checkpoint are refused by another.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from voxprint.encoders.campplus import validate_waveform, window_starts
from voxprint.encoders.campplus_net import CampPlusConfig, CampPlusNet
from voxprint.encoders.resnet_net import ResNetConfig, ResNetDVector
from voxprint.encoders.weights import load_state_strictly, load_torch_file
from voxprint.errors import (
    InvalidParameterError,
    ModelError,
)
from voxprint.features import above_the_floor, kaldi_fbank, mean_normalise

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "voxprint-trained-encoder"
CHECKPOINT_FORMAT_VERSION = 1
SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100
MIN_SPEECH_SECONDS = 0.1
MAX_WINDOW_SECONDS = 30.0


@dataclass(frozen=True)
class Architecture:
    """How to rebuild one trainable network from its stored arguments."""

    encoder_name: str
    n_mels: int
    build: Callable[[Mapping[str, Any]], nn.Module]


def _build_resnet(arguments: Mapping[str, Any]) -> nn.Module:
    values = dict(arguments)
    if "channels" in values:
        values["channels"] = tuple(values["channels"])
    try:
        return ResNetDVector(ResNetConfig(**values))
    except TypeError as exc:
        raise ModelError(f"bad ResNet arguments in checkpoint: {exc}") from exc


def _build_campplus(arguments: Mapping[str, Any]) -> nn.Module:
    return CampPlusNet(
        CampPlusConfig(
            feat_dim=int(arguments.get("feat_dim", 80)),
            embedding_size=int(arguments.get("embedding_size", 192)),
        )
    )


#: Trainable architectures by the name stored in checkpoints.
ARCHITECTURES: dict[str, Architecture] = {
    "resnet": Architecture("trained-resnet", 40, _build_resnet),
    "campplus": Architecture("trained-campplus", 80, _build_campplus),
}


def architecture(name: str) -> Architecture:
    found = ARCHITECTURES.get(name)
    if found is None:
        raise InvalidParameterError(
            f"unknown architecture {name!r}; choose one of: {', '.join(sorted(ARCHITECTURES))}"
        )
    return found


def frontend(waveform: np.ndarray, n_mels: int) -> np.ndarray:
    """Mean-normalised Kaldi log-mel fbank: ``(n,)`` 16 kHz → ``(frames, n_mels) float32``."""
    return mean_normalise(kaldi_fbank(above_the_floor(waveform), SAMPLE_RATE, n_mels))


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """First 12 hex characters of a SHA-256 over the tensors of a state dict, by key."""
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(key.encode())
        sha.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()[:12]


class TrainedEncoder:
    """A speaker encoder loaded from a ``voxprint train`` checkpoint (CPU inference)."""

    def __init__(self, checkpoint: Path) -> None:
        path = Path(checkpoint)
        data = load_torch_file(path)
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise ModelError(f"{path} is not a voxprint training checkpoint")
        if data.get("format_version") != CHECKPOINT_FORMAT_VERSION:
            raise ModelError(
                f"{path} has checkpoint format version {data.get('format_version')}; "
                f"this voxprint reads version {CHECKPOINT_FORMAT_VERSION}"
            )
        try:
            spec = architecture(str(data["architecture"]))
            state = data["state"]
            self._dimension = int(data["dimension"])
        except (KeyError, InvalidParameterError) as exc:
            raise ModelError(f"{path} is not a usable checkpoint: {exc}") from exc
        network = spec.build(data.get("network", {}))
        load_state_strictly(network, state, path, f"{data['architecture']} network")
        self._network = network
        self._architecture = spec
        self._path = path
        self._version = f"{data['architecture']}-{state_digest(state)}"
        point = data.get("operating_point")
        self._calibration = None if point is None else dict(point)
        self._speakers = tuple(str(s) for s in data.get("speakers", ()))
        self._epoch = int(data.get("epoch", 0))
        logger.debug("loaded trained encoder %s from %s", self._version, path)

    @property
    def name(self) -> str:
        return self._architecture.encoder_name

    @property
    def version(self) -> str:
        return self._version

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def calibration(self) -> Mapping[str, Any] | None:
        """The calibration fitted on the validation split at training time, if any, as
        stored in the checkpoint (read by ``voxprint.operating_points``)."""
        return self._calibration

    @property
    def checkpoint_path(self) -> Path:
        return self._path

    @property
    def training_speakers(self) -> tuple[str, ...]:
        return self._speakers

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def network(self) -> nn.Module:
        """The embedding network (in eval mode)."""
        return self._network

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono 16 kHz speech, at least 0.1 s.
        Returns ``(dimension,) float32``, L2-normalised. Speech longer than 30 s is
        cut into half-overlapping windows whose embeddings are averaged.
        """
        samples = validate_waveform(waveform, MIN_SPEECH_SECONDS, SAMPLE_RATE)
        features = kaldi_fbank(above_the_floor(samples), SAMPLE_RATE, self._architecture.n_mels)
        window = int(MAX_WINDOW_SECONDS * FRAMES_PER_SECOND)
        vectors, weights = [], []
        with torch.inference_mode():
            for start in window_starts(features.shape[0], window):
                chunk = mean_normalise(features[start : start + window])
                raw = self._network(torch.from_numpy(chunk)[None]).numpy()[0].astype(np.float64)
                vectors.append(raw / max(float(np.linalg.norm(raw)), 1e-12))
                weights.append(chunk.shape[0])
        pooled = np.average(np.stack(vectors), axis=0, weights=np.asarray(weights, float))
        norm = float(np.linalg.norm(pooled))
        if norm == 0.0 or not np.isfinite(norm):
            raise ModelError("the trained encoder produced a degenerate embedding")
        return (pooled / norm).astype(np.float32)


def load_trained_encoder(checkpoint: str | Path) -> TrainedEncoder:
    return TrainedEncoder(Path(checkpoint))
