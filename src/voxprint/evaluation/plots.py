"""Plots of evaluation results (matplotlib, drawn off-screen)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import norm

from voxprint.errors import InvalidParameterError
from voxprint.evaluation.metrics import error_rates
from voxprint.projection import pca_2d

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


#: Ways :func:`embedding_map` can flatten embeddings to two dimensions.
EMBEDDING_MAP_METHODS = ("pca", "tsne")


def check_map_method(method: str) -> str:
    """``method`` if :func:`embedding_map` knows it, else :class:`InvalidParameterError`
    (callers check it before the slow embedding, not after)."""
    if method not in EMBEDDING_MAP_METHODS:
        raise InvalidParameterError(
            f"unknown map method {method!r}; choose one of {', '.join(EMBEDDING_MAP_METHODS)}"
        )
    return method


def embedding_map(embeddings: np.ndarray, method: str = "pca", *, seed: int = 0) -> np.ndarray:
    """2-D coordinates of embeddings, for a map of speakers.

    embeddings: ``(n, dim)`` float. ``method``: ``"pca"`` (first two principal
    components) or ``"tsne"`` (scikit-learn t-SNE on cosine distances; perplexity
    adapted to small ``n``). Returns ``(n, 2) float64``.
    """
    points = np.asarray(embeddings, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 2:
        raise InvalidParameterError("embedding_map needs an (n, dim) array with n >= 2")
    if not np.isfinite(points).all():
        raise InvalidParameterError("embeddings contain NaN or infinite values")
    match check_map_method(method):
        case "pca":
            coords, _ = pca_2d(points)
            return coords.astype(np.float64)
        case "tsne":
            from sklearn.manifold import TSNE

            perplexity = float(min(30.0, max(1.0, (points.shape[0] - 1) / 3)))
            tsne = TSNE(
                n_components=2,
                metric="cosine",
                init="pca",
                perplexity=perplexity,
                random_state=seed,
            )
            return np.asarray(tsne.fit_transform(points), dtype=np.float64)
        case _:  # unreachable: check_map_method refused it
            raise AssertionError(method)


def plot_embedding_map(
    points: np.ndarray, speakers: Sequence[str], path: Path, *, title: str = "Speaker embeddings"
) -> Path:
    """Scatter ``(n, 2)`` map coordinates coloured by speaker and save a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coordinates = np.asarray(points, dtype=np.float64)
    if coordinates.shape != (len(speakers), 2):
        raise InvalidParameterError("points must be (n, 2) with one speaker label per row")
    names = sorted(set(speakers))
    colours = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    labels = np.asarray(speakers)
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=110)
    for index, name in enumerate(names):
        rows = coordinates[labels == name]
        ax.scatter(rows[:, 0], rows[:, 1], s=22, color=colours(index % colours.N), label=name)
    if len(names) <= 20:
        ax.legend(fontsize=7, markerscale=0.8, loc="best", title="speaker")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_score_histograms(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    path: Path,
    *,
    thresholds: Sequence[tuple[str, float]] = (),
    title: str = "Trial scores",
) -> Path:
    """Histograms of target and non-target cosines with vertical threshold lines; saves a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = np.asarray(target_scores, dtype=np.float64).ravel()
    nontarget = np.asarray(nontarget_scores, dtype=np.float64).ravel()
    if target.size == 0 or nontarget.size == 0:
        raise InvalidParameterError("need both target and non-target scores to plot")
    fig, ax = plt.subplots(figsize=(6.5, 4.0), dpi=110)
    low = min(target.min(), nontarget.min())
    high = max(target.max(), nontarget.max())
    bins = np.linspace(low, high, 60).tolist()
    ax.hist(nontarget, bins=bins, density=True, alpha=0.55, label=f"non-target ({nontarget.size})")
    ax.hist(target, bins=bins, density=True, alpha=0.55, label=f"target ({target.size})")
    for (label, value), style in zip(thresholds, ("-", "--", ":", "-."), strict=False):
        ax.axvline(
            value, color="black", linestyle=style, linewidth=1.2, label=f"{label} {value:.3f}"
        )
    ax.set_xlabel("cosine score")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
