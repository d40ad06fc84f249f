"""Clustering local-speaker embeddings into global speakers, and the constrained
assignment of each chunk's local speakers to them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.errors import InvalidParameterError

#: Above this many embeddings the dendrogram is built on an evenly spaced subset (its
#: memory grows with the square); the rest are assigned to the centroids like any other.
MAX_CLUSTERED = 4000
LINKAGES = ("average", "centroid")
CLUSTERINGS = ("agglomerative", "spectral")


#: Most speakers a diarization may be asked for.
MAX_SPEAKERS = 50


@dataclass(frozen=True)
class SpeakerCount:
    """Constraints on the number of speakers: ``exactly``, or between ``minimum`` and
    ``maximum`` (``None``: no bound)."""

    exactly: int | None = None
    minimum: int | None = None
    maximum: int | None = None

    def __post_init__(self) -> None:
        for name, shown in (
            ("exactly", "num_speakers"),
            ("minimum", "min_speakers"),
            ("maximum", "max_speakers"),
        ):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_SPEAKERS:
                raise InvalidParameterError(f"{shown} must be 1 to {MAX_SPEAKERS}, got {value}")
        if self.exactly is not None and (self.minimum is not None or self.maximum is not None):
            raise InvalidParameterError("give num_speakers, or min/max_speakers, not both")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise InvalidParameterError(
                f"min_speakers ({self.minimum}) is above max_speakers ({self.maximum})"
            )

    def clamp(self, estimated: int) -> int:
        """The count to use when clustering estimated ``estimated`` speakers."""
        if self.exactly is not None:
            return self.exactly
        count = estimated
        if self.minimum is not None:
            count = max(count, self.minimum)
        if self.maximum is not None:
            count = min(count, self.maximum)
        return count


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cluster_embeddings(
    embeddings: np.ndarray,
    *,
    threshold: float,
    min_cluster_size: int,
    count: SpeakerCount,
    method: str = "average",
) -> np.ndarray:
    """Agglomerative clustering of ``(n, dim)`` embeddings → ``(n,) int`` labels 0..k-1.

    ``method`` ``"average"``: average linkage on cosine distance (``1 - cos``), cut at
    ``threshold``; ``"centroid"``: centroid linkage on unit vectors, cut at a Euclidean
    distance of ``threshold``. Clusters of fewer than ``min_cluster_size`` members are
    folded into the nearest large one (when there is one). ``count`` overrides the
    estimate: the dendrogram is then cut at the height that leaves that many large
    clusters (or, failing that, that many clusters).
    """
    if method not in LINKAGES:
        raise InvalidParameterError(f"unknown linkage {method!r}; expected one of {LINKAGES}")
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    # scipy is imported where it is used: importing it takes the server 0.3-0.5 s.
    from scipy.cluster.hierarchy import fcluster, linkage

    x = normalize_rows(embeddings.astype(np.float64))
    if method == "average":
        tree = linkage(x, method="average", metric="cosine")
    else:
        tree = linkage(x, method="centroid", metric="euclidean")
    labels = _fold_small(x, fcluster(tree, t=threshold, criterion="distance") - 1, min_cluster_size)
    estimated = len(np.unique(labels))
    wanted = min(count.clamp(estimated), n)
    if wanted != estimated:
        labels = _cut_at(x, tree, wanted, min_cluster_size)
    return _relabel(labels)


def _cut_at(x: np.ndarray, tree: np.ndarray, wanted: int, min_size: int) -> np.ndarray:
    """Labels of the highest cut of ``tree`` that leaves ``wanted`` clusters once small
    ones are folded in; the plain ``wanted``-cluster cut when no height does."""
    from scipy.cluster.hierarchy import fcluster

    for k in range(wanted, x.shape[0] + 1):
        labels = _fold_small(x, fcluster(tree, t=k, criterion="maxclust") - 1, min_size)
        found = len(np.unique(labels))
        if found == wanted:
            return labels
        if found > wanted:
            break
    return fcluster(tree, t=wanted, criterion="maxclust") - 1


def _fold_small(x: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    ids, sizes = np.unique(labels, return_counts=True)
    large = ids[sizes >= min_size]
    if len(large) == 0 or len(large) == len(ids):
        return labels
    centroids = normalize_rows(np.stack([x[labels == i].mean(axis=0) for i in large]))
    out = labels.copy()
    small = ~np.isin(labels, large)
    out[small] = large[np.argmax(x[small] @ centroids.T, axis=1)]
    return out


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=np.int64)


def centroids_of(embeddings: np.ndarray, labels: np.ndarray, clusters: int) -> np.ndarray:
    """``(clusters, dim)`` unit-length mean embedding of each cluster."""
    x = normalize_rows(embeddings.astype(np.float64))
    return normalize_rows(np.stack([x[labels == k].mean(axis=0) for k in range(clusters)]))


def assign_chunk(similarities: np.ndarray) -> np.ndarray:
    """Assign a chunk's local speakers to clusters, distinct clusters within the chunk.

    ``similarities`` is ``(local, clusters)``; returns ``(local,) int`` cluster indices
    maximising the total similarity (Hungarian). When a chunk has more local speakers
    than there are clusters, the extra ones take their most similar cluster.
    """
    local, clusters = similarities.shape
    result = np.argmax(similarities, axis=1).astype(np.int64) if clusters else np.zeros(local)
    if local == 0 or clusters == 0:
        return result.astype(np.int64)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-similarities)
    result[rows] = cols
    return result.astype(np.int64)


def spectral_cluster(
    embeddings: np.ndarray,
    *,
    count: SpeakerCount,
    neighbours: int = 6,
    neighbour_fraction: float = 0.02,
    max_speakers: int = 10,
    min_cluster_size: int = 1,
    merge_cosine: float | None = None,
    normalized: bool = False,
) -> np.ndarray:
    """Spectral clustering of ``(n, dim)`` embeddings → ``(n,) int`` labels 0..k-1.

    The affinity is the cosine similarity, each row pruned to its ``max(neighbours,
    neighbour_fraction * n)`` most similar others and symmetrised; the number of speakers
    is where the Laplacian's eigenvalues jump most (the eigengap), searched between
    ``count``'s bounds (1 and ``max_speakers`` by default) or fixed by ``count.exactly``;
    k-means on the first eigenvectors gives the labels. Clusters of fewer than
    ``min_cluster_size`` members are folded into the nearest large one, and with
    ``merge_cosine`` clusters whose centroids are at least that similar are merged.
    ``normalized`` uses the symmetric normalized Laplacian (else ``D - A``).
    """
    if neighbours < 1 or not 0.0 <= neighbour_fraction <= 1.0 or max_speakers < 1:
        raise InvalidParameterError(
            "spectral clustering needs neighbours >= 1, a neighbour_fraction in [0, 1] "
            "and max_speakers >= 1"
        )
    n = embeddings.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    x = normalize_rows(embeddings.astype(np.float64))
    similarity = x @ x.T
    keep = min(n - 1, max(neighbours, int(np.ceil(neighbour_fraction * n))))
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1)[:, :keep]
    affinity = np.zeros((n, n))
    rows = np.repeat(np.arange(n), keep)
    affinity[rows, order.ravel()] = np.maximum(similarity[rows, order.ravel()], 0.0)
    affinity = 0.5 * (affinity + affinity.T)
    degree = affinity.sum(axis=1)
    if normalized:
        scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
        laplacian = np.eye(n) - scale[:, None] * affinity * scale[None, :]
    else:
        laplacian = np.diag(degree) - affinity
    values, vectors = np.linalg.eigh(laplacian)
    if count.exactly is not None:
        k = min(count.exactly, n)
    else:
        low = max(1, count.minimum or 1)
        high = min(count.maximum or max_speakers, n - 1)
        if high <= low:
            k = min(low, n)
        else:
            gaps = np.diff(values[low - 1 : high + 1])
            k = low + int(np.argmax(gaps))
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    spectral = vectors[:, :k]
    if normalized:
        spectral = normalize_rows(spectral)
    labels = kmeans(spectral, k)
    if min_cluster_size > 1:
        labels = _fold_small(x, labels, min_cluster_size)
    if merge_cosine is not None and count.exactly is None:
        labels = _merge_similar(x, labels, merge_cosine, count.minimum or 1)
    return _relabel(labels)


def kmeans(points: np.ndarray, k: int, *, restarts: int = 10, iterations: int = 100) -> np.ndarray:
    """Deterministic k-means (k-means++ starts from a fixed seed, best of ``restarts``)
    of ``(n, d)`` points → ``(n,) int`` labels; ``k`` is clipped to ``n``."""
    n = points.shape[0]
    if k < 1:
        raise InvalidParameterError(f"k-means needs k >= 1, got {k}")
    k = min(k, n)
    rng = np.random.default_rng(0)
    best, best_inertia = np.zeros(n, dtype=np.int64), np.inf
    for _restart in range(restarts):
        centres = [points[int(rng.integers(n))]]
        for _ in range(1, k):
            distance = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), 1)
            total = distance.sum()
            pick = int(rng.choice(n, p=distance / total)) if total > 0 else int(rng.integers(n))
            centres.append(points[pick])
        centre = np.array(centres)
        labels = np.full(n, -1, dtype=np.int64)
        for _ in range(iterations):
            new = np.argmin(((points[:, None, :] - centre[None]) ** 2).sum(-1), axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if np.any(labels == j):
                    centre[j] = points[labels == j].mean(axis=0)
        inertia = float(((points - centre[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels.copy(), inertia
    return best


def _merge_similar(x: np.ndarray, labels: np.ndarray, cosine: float, minimum: int) -> np.ndarray:
    """Merge the two clusters with the most similar centroids while that similarity
    reaches ``cosine`` and more than ``minimum`` clusters remain."""
    out = labels.copy()
    while True:
        ids = np.unique(out)
        if len(ids) <= minimum:
            return out
        centroids = normalize_rows(np.stack([x[out == i].mean(axis=0) for i in ids]))
        similarity = centroids @ centroids.T
        similarity[np.tril_indices(len(ids))] = -np.inf
        a, b = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[a, b] < cosine:
            return out
        out[out == ids[b]] = ids[a]
