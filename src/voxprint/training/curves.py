"""The loss and accuracy curves of a training run, as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class EpochPoint(Protocol):
    @property
    def epoch(self) -> int: ...
    @property
    def train_loss(self) -> float: ...
    @property
    def train_accuracy(self) -> float: ...
    @property
    def validation_loss(self) -> float: ...
    @property
    def validation_accuracy(self) -> float: ...


def plot_training_curves(
    history: Sequence[EpochPoint], path: Path, *, best_epoch: int | None = None
) -> Path:
    """Loss (left) and accuracy (right) per epoch for the training and validation splits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    loss_ax.plot(epochs, [r.train_loss for r in history], marker="o", label="train")
    loss_ax.plot(epochs, [r.validation_loss for r in history], marker="o", label="validation")
    acc_ax.plot(epochs, [100 * r.train_accuracy for r in history], marker="o", label="train")
    acc_ax.plot(
        epochs, [100 * r.validation_accuracy for r in history], marker="o", label="validation"
    )
    for ax, label in ((loss_ax, "loss"), (acc_ax, "speaker accuracy (%)")):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1, label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, linewidth=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
