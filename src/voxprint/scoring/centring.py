"""Centring embeddings on the voices a namespace holds, before their cosines are taken.

Every embedding of a recording carries what its channel, language and recording set-up
share with every other recording made the same way. Strangers recorded alike therefore
score above zero with each other: 0.07 on clean read speech, 0.26 on 8 kHz calls, 0.23 on
8 kHz digits (docs/benchmarks.md, "Centring embeddings on the namespace's enrolled
clips"). The mean of a namespace's voiceprints estimates that shared part from the user's
own enrolments; subtracting it from both sides of a cosine puts strangers at zero on
every domain, and separates owners from strangers better where the shared part is large.

A namespace's own mean holds part of each of its voices: with two profiles, half of
each. So the mean used is shrunk towards one shipped with the encoder's scoring prior
(the mean voiceprint of the development data), as if that were
:data:`CENTRE_PSEUDO_PROFILES` more profiles: a few profiles cannot centre on themselves.
What the shipped centre leaves of a channel (a telephone line's lift) the impostor
prior of that band still expects, until the namespace's own profiles move both.

Pure numpy: the statistics (:mod:`voxprint.adaptation`) keep the namespace's mean, the
operating point carries the centre, and the scorer applies it.
"""

from __future__ import annotations

import numpy as np

from voxprint.errors import InvalidParameterError
from voxprint.scoring.similarity import cosine_matrix

#: The shipped centre counts as this many profiles against the namespace's own mean.
CENTRE_PSEUDO_PROFILES = 40.0


def own_share(profiles: int, weight: float = CENTRE_PSEUDO_PROFILES) -> float:
    """The share of a namespace's centre that its ``profiles`` profiles' own mean makes
    (the rest is the shipped centre's)."""
    return profiles / (profiles + weight) if profiles > 0 else 0.0


def namespace_centre(
    shipped: np.ndarray,
    profiles_mean: np.ndarray | None,
    profiles: int,
    weight: float = CENTRE_PSEUDO_PROFILES,
) -> np.ndarray:
    """The ``(dim,) float32`` centre of a namespace whose ``profiles`` enrolled profiles'
    voiceprints average ``profiles_mean`` (``None`` or 0 profiles: the shipped centre
    alone), shrunk towards the ``(dim,)`` ``shipped`` centre as if it were ``weight``
    more profiles."""
    centre = np.asarray(shipped, dtype=np.float64)
    if profiles_mean is not None and profiles > 0:
        own = np.asarray(profiles_mean, dtype=np.float64)
        if own.shape != centre.shape:
            raise InvalidParameterError(
                f"a centre of shape {own.shape} cannot shrink towards one of {centre.shape}"
            )
        share = own_share(profiles, weight)
        centre = share * own + (1.0 - share) * centre
    return centre.astype(np.float32)


def centred(vectors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``(n, dim)`` (or ``(dim,)``) embeddings minus ``centre``, L2-normalised again;
    ``float32`` of the same shape. A vector equal to the centre stays zero (cosine 0)."""
    shifted = np.asarray(vectors, dtype=np.float32) - np.asarray(centre, dtype=np.float32)
    norms = np.linalg.norm(shifted, axis=-1, keepdims=True)
    return np.asarray(shifted / np.maximum(norms, 1e-12), dtype=np.float32)


def centred_cosines(
    a: np.ndarray,
    b: np.ndarray,
    centre: np.ndarray | None,
    ceiling: np.ndarray | None = None,
    b_centres: np.ndarray | None = None,
) -> np.ndarray:
    """``(m, n)`` cosines of the rows of ``a`` ``(m, dim)`` with the rows of ``b``
    ``(n, dim)`` as an operating point reads them: both centred on ``centre`` (``None``:
    as they are), or ``b``'s rows each on its row of ``b_centres`` ``(n, dim)`` (each
    side on its own band's centre, in a namespace that mixes bands). With a ``ceiling``
    centre (the shipped one), never above the cosines
    centred on that instead: a namespace's own mean may take out what the shipped centre
    leaves of a channel, but cannot lift a pair above it. That bounds what profiles
    crafted to pull the mean away from the real voices can do (found in review: they
    lifted real strangers' centred cosines, FAR 0.7 → 9.0 %)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    if centre is None:
        return cosine_matrix(a, b).astype(np.float64)
    if b_centres is not None and np.shape(b_centres) != b.shape:
        raise InvalidParameterError(
            f"{np.shape(b_centres)} centres given for voiceprints of shape {b.shape}"
        )
    cosines = centred(a, centre) @ centred(b, centre if b_centres is None else b_centres).T
    if ceiling is not None:
        cosines = np.minimum(cosines, centred(a, ceiling) @ centred(b, ceiling).T)
    return np.asarray(cosines, dtype=np.float64)
