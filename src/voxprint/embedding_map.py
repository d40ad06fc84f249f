"""A 2-D map of enrolled speakers: their voiceprints and clip embeddings, projected by PCA.

Points of one speaker should cluster, and different speakers should sit apart;
the web page draws this map. The projection is a plain PCA (centred SVD) of all
the vectors shown, so it is deterministic up to the sign of each axis, which is
fixed here so that the largest loading of each axis is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.errors import InvalidParameterError
from voxprint.projection import pca_2d
from voxprint.service import VoxprintService


@dataclass(frozen=True)
class MapPoint:
    """One vector on the map: a profile's voiceprint (``kind="voiceprint"``) or a clip."""

    profile_id: str
    name: str
    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class EmbeddingMap:
    points: tuple[MapPoint, ...]
    explained_variance: tuple[float, float]
    method: str = "pca"


def build_embedding_map(
    service: VoxprintService, *, max_profiles: int = 200, clips: bool = True
) -> EmbeddingMap:
    """The map of the namespace's enrolled profiles (made with this service's encoder)."""
    if max_profiles < 1:
        raise InvalidParameterError("max_profiles must be at least 1")
    store = service.store
    gallery = store.gallery(
        service.namespace,
        encoder_name=service.encoder_name,
        encoder_version=service.encoder_version,
    )
    labels: list[tuple[str, str, str]] = []
    vectors: list[np.ndarray] = []
    for i, profile_id in enumerate(gallery.profile_ids[:max_profiles]):
        name = gallery.names[i]
        labels.append((profile_id, name, "voiceprint"))
        vectors.append(gallery.voiceprints[i])
        if clips:
            for clip in store.list_clips(service.namespace, profile_id):
                labels.append((profile_id, name, "clip"))
                vectors.append(clip.embedding)
    if not vectors:
        return EmbeddingMap(points=(), explained_variance=(0.0, 0.0))
    coords, shares = pca_2d(np.stack(vectors))
    points = tuple(
        MapPoint(pid, name, kind, float(x), float(y))
        for (pid, name, kind), (x, y) in zip(labels, coords, strict=True)
    )
    return EmbeddingMap(points=points, explained_variance=shares)
