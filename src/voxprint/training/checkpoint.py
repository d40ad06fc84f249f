"""Run-folder files: per-epoch training checkpoints and the exported best encoder.

Every checkpoint uses the format of :mod:`voxprint.encoders.trained`, so any of
them loads as an encoder; epoch checkpoints also hold a ``"training"`` entry
(classifier head, optimiser, scheduler, random states, history) for ``--resume``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from voxprint.encoders.trained import CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION
from voxprint.encoders.weights import load_torch_file
from voxprint.errors import ModelError
from voxprint.evaluation.operating_point import FittedScores

logger = logging.getLogger(__name__)

CHECKPOINT_FOLDER = "checkpoints"
BEST_CHECKPOINT = "best.pt"
CONFIG_FILE = "config.json"
CURVES_FILE = "curves.png"
HISTORY_FILE = "history.json"
_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.pt$")


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state dict."""
    return {key: value.detach().cpu().clone() for key, value in module.state_dict().items()}


def encoder_checkpoint(
    *,
    architecture: str,
    network_arguments: dict[str, Any],
    dimension: int,
    state: dict[str, torch.Tensor],
    operating_point: FittedScores | None,
    speakers: tuple[str, ...],
    config: dict[str, Any],
    epoch: int,
    metrics: dict[str, float],
) -> dict[str, Any]:
    """The encoder part of a checkpoint (what :class:`TrainedEncoder` reads)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "architecture": architecture,
        "network": network_arguments,
        "dimension": dimension,
        "state": state,
        "operating_point": None if operating_point is None else operating_point.to_dict(),
        "speakers": list(speakers),
        "config": config,
        "epoch": epoch,
        "metrics": metrics,
    }


def save_checkpoint(data: dict[str, Any], path: Path) -> Path:
    """Write atomically: a crash never leaves a half-written checkpoint behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(data, partial)
    partial.replace(path)
    return path


def epoch_checkpoint_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / CHECKPOINT_FOLDER / f"epoch-{epoch:03d}.pt"


def epoch_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the run's epoch checkpoints, oldest first."""
    folder = run_dir / CHECKPOINT_FOLDER
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _EPOCH_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` epoch checkpoints."""
    for _epoch, path in epoch_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    data = load_torch_file(path)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path} is not a voxprint training checkpoint")
    if "training" not in data:
        raise ModelError(f"{path} holds an exported encoder only; it cannot be resumed")
    return data
