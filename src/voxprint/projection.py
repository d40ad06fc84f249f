"""Projections of embeddings to two dimensions, for maps of speakers."""

from __future__ import annotations

import numpy as np

from voxprint.errors import InvalidParameterError


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Project ``(n, dim)`` vectors onto their first two principal axes.

    Returns ``(n, 2) float32`` coordinates and the share of variance each axis
    explains. Fewer than two distinct points give zeros on the missing axes.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2:
        raise InvalidParameterError("pca_2d needs an (n, dim) array")
    if data.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.float32), (0.0, 0.0)
    centred = data - data.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    coords = np.zeros((data.shape[0], 2))
    k = min(2, axes.shape[0])
    for i in range(k):
        axis = axes[i] * (1.0 if axes[i][np.argmax(np.abs(axes[i]))] >= 0 else -1.0)
        coords[:, i] = centred @ axis
    total = float(np.sum(singular**2))
    shares = [float(s**2 / total) if total > 0 else 0.0 for s in singular[:2]]
    shares += [0.0] * (2 - len(shares))
    return coords.astype(np.float32), (shares[0], shares[1])
