"""Plots of evaluation results (matplotlib, drawn off-screen)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import norm

from voxprint.evaluation.metrics import error_rates

_TICKS = np.array([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])


def plot_det(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    path: Path,
    *,
    title: str = "DET curve",
) -> Path:
    """Draw detection-error trade-off curves on normal-deviate axes and save a PNG.

    curves: ``(label, target_scores, nontarget_scores)`` per system.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 1e-4
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=110)
    for label, target, nontarget in curves:
        rates = error_rates(target, nontarget)
        far = norm.ppf(np.clip(rates.false_accept, floor, 1 - floor))
        frr = norm.ppf(np.clip(rates.false_reject, floor, 1 - floor))
        ax.plot(far, frr, label=label)
    ticks = norm.ppf(_TICKS)
    labels = [f"{100 * t:g}" for t in _TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    limit = norm.ppf([0.0005, 0.5])
    ax.set_xlim(*limit)
    ax.set_ylim(*limit)
    ax.plot(limit, limit, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("False accept rate (%)")
    ax.set_ylabel("False reject rate (%)")
    ax.set_title(title)
    ax.grid(True, linewidth=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
