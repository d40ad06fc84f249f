"""Cosine similarity between L2-normalised embeddings."""

from __future__ import annotations

import numpy as np

from voxprint.errors import InvalidParameterError


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length.

    vectors: ``(dim,)`` or ``(n, dim)``. Returns float32 of the same shape.
    A zero vector stays zero rather than becoming NaN.
    """
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Raw cosine similarity in [-1, 1] of two ``(dim,)`` embeddings."""
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        raise InvalidParameterError(
            f"embeddings have different dimensions: {a.shape[0]} and {b.shape[0]}"
        )
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denominator == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / denominator, -1.0, 1.0))


def cosine_scores(query: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Cosine of a ``(dim,)`` query with each row of an ``(n, dim)`` gallery -> ``(n,)`` float32."""
    gallery = np.asarray(gallery, dtype=np.float32)
    if gallery.size == 0:
        return np.zeros(0, dtype=np.float32)
    return cosine_matrix(np.asarray(query, dtype=np.float32)[None, :], gallery)[0]


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs cosine: ``(m, dim)`` x ``(n, dim)`` -> ``(m, n)`` float32."""
    a = l2_normalise(np.atleast_2d(a))
    b = l2_normalise(np.atleast_2d(b))
    if a.shape[1] != b.shape[1]:
        raise InvalidParameterError(
            f"embeddings have different dimensions: {a.shape[1]} and {b.shape[1]}"
        )
    return np.clip(a @ b.T, -1.0, 1.0).astype(np.float32, copy=False)
