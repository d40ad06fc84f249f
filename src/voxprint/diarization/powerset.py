"""The powerset classes of segmentation-3.0's output, without torch.

Each of the network's 7 classes is a set of the chunk's local speakers: nobody, each
speaker alone, and each pair. Decoding (:mod:`~voxprint.diarization.segmentation`) and
the network (:mod:`~voxprint.diarization.segmentation_net`) share this table.
"""

from __future__ import annotations

import itertools

import numpy as np

#: Local speakers per chunk, and how many may speak at once.
LOCAL_SPEAKERS = 3
MAX_SIMULTANEOUS = 2


def powerset_table(
    speakers: int = LOCAL_SPEAKERS, simultaneous: int = MAX_SIMULTANEOUS
) -> np.ndarray:
    """``(classes, speakers)`` 0/1 table: which local speakers each powerset class holds.

    Classes are ordered by size, then lexicographically: ∅, {0}, {1}, {2}, {0,1},
    {0,2}, {1,2} for three speakers and at most two at once.
    """
    rows = [
        [1.0 if s in subset else 0.0 for s in range(speakers)]
        for size in range(simultaneous + 1)
        for subset in itertools.combinations(range(speakers), size)
    ]
    return np.array(rows, dtype=np.float32)


POWERSET = powerset_table()
