"""Evaluation plots: the 2-D embedding map (as data and as a PNG), score histograms, DET."""

from __future__ import annotations

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.evaluation.plots import (
    embedding_map,
    plot_det,
    plot_embedding_map,
    plot_score_histograms,
)


def clusters(rng: np.random.Generator, per_speaker: int = 8) -> tuple[np.ndarray, list[str]]:
    centres = rng.normal(size=(3, 32))
    points = np.concatenate([c + 0.05 * rng.normal(size=(per_speaker, 32)) for c in centres])
    labels = [f"spk{i}" for i in range(3) for _ in range(per_speaker)]
    return points.astype(np.float32), labels


def nearest_centre_accuracy(points: np.ndarray, labels: list[str]) -> float:
    names = sorted(set(labels))
    owner = np.array([names.index(label) for label in labels])
    centres = np.stack([points[owner == i].mean(axis=0) for i in range(len(names))])
    distances = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    return float(np.mean(distances.argmin(axis=1) == owner))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_embedding_map_keeps_speakers_apart_in_two_dimensions(rng, method) -> None:
    points, labels = clusters(rng)
    mapped = embedding_map(points, method)
    assert mapped.shape == (len(labels), 2)
    assert np.isfinite(mapped).all()
    assert nearest_centre_accuracy(mapped, labels) == 1.0


def test_the_pca_map_is_the_projection_on_the_two_main_axes(rng) -> None:
    points = np.zeros((20, 5))
    points[:, 0] = rng.normal(scale=10.0, size=20)
    points[:, 3] = rng.normal(scale=1.0, size=20)
    mapped = embedding_map(points, "pca")
    centred = points[:, 0] - points[:, 0].mean()
    assert np.allclose(np.abs(mapped[:, 0]), np.abs(centred), atol=0.05)


@pytest.mark.parametrize(
    ("embeddings", "method", "message"),
    [
        (np.zeros((1, 4)), "pca", "n >= 2"),
        (np.zeros(4), "pca", "n >= 2"),
        (np.full((3, 4), np.nan), "pca", "NaN"),
        (np.eye(4), "umap", "unknown map method 'umap'"),
    ],
)
def test_the_embedding_map_refuses_bad_input(embeddings, method, message) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        embedding_map(embeddings, method)


def test_plots_are_written_as_png_files(rng, tmp_path) -> None:
    points, labels = clusters(rng)
    target, nontarget = rng.normal(0.7, 0.1, 50), rng.normal(0.1, 0.1, 500)
    written = [
        plot_embedding_map(embedding_map(points), labels, tmp_path / "map.png"),
        plot_score_histograms(
            target, nontarget, tmp_path / "scores.png", thresholds=[("threshold", 0.4)]
        ),
        plot_det([("system", target, nontarget)], tmp_path / "det.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidParameterError, match="one speaker label per row"):
        plot_embedding_map(embedding_map(points), labels[:-1], tmp_path / "bad.png")
    with pytest.raises(InvalidParameterError, match="both target and non-target"):
        plot_score_histograms(target, np.array([]), tmp_path / "bad.png")
