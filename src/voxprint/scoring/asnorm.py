"""Adaptive symmetric score normalisation (AS-Norm) against an impostor cohort.

A raw cosine between an enrolment and a test embedding is shifted and scaled by
how each side scores against a cohort of impostor embeddings: speakers known to
be *different* from everyone in the trials. Only the ``top_k`` highest cohort
scores of each side are used (the "adaptive" part: the impostors that look most
like that voice), and the two z-scores are averaged::

    normalised = 0.5 * ((s - mean_e) / std_e + (s - mean_t) / std_t)

where ``mean_e, std_e`` are the mean and standard deviation of the enrolment
embedding's top-k cohort scores and ``mean_t, std_t`` the same for the test
embedding. The result is still a score (larger = more alike), not a decision,
and it is not on the cosine scale: thresholds fitted on raw cosines do not
apply to it.

Pure numpy. Reference: Matejka et al., "Analysis of score normalization in
multilingual speaker recognition", Interspeech 2017.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voxprint.errors import EmptyCohortError, InvalidParameterError

DEFAULT_TOP_K = 200
_MIN_STD = 1e-6


def cohort_statistics(
    cohort_scores: np.ndarray, top_k: int = DEFAULT_TOP_K
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row's ``top_k`` largest cohort scores.

    cohort_scores: ``(n, m)`` scores of ``n`` embeddings against ``m`` cohort
    embeddings. ``top_k`` is clipped to ``m``. Returns two ``(n,)`` float64
    arrays; the standard deviation is floored at 1e-6 so a flat row cannot
    divide by zero.
    """
    scores = np.asarray(cohort_scores, dtype=np.float64)
    if scores.ndim != 2:
        raise InvalidParameterError(f"cohort scores must be (n, m), got shape {scores.shape}")
    if scores.shape[1] == 0:
        raise EmptyCohortError("AS-Norm needs at least one cohort embedding")
    if top_k < 1:
        raise InvalidParameterError(f"top_k must be at least 1, got {top_k}")
    if not np.all(np.isfinite(scores)):
        raise InvalidParameterError("cohort scores contain NaN or infinity")
    k = min(top_k, scores.shape[1])
    if k == scores.shape[1]:
        top = scores
    else:
        top = np.partition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k :]
    return top.mean(axis=1), np.maximum(top.std(axis=1), _MIN_STD)


def as_norm(
    scores: np.ndarray,
    enrol_cohort: np.ndarray,
    test_cohort: np.ndarray,
    top_k: int = DEFAULT_TOP_K,
) -> np.ndarray:
    """Adaptive S-norm of a raw score matrix, given each side's cohort scores.

    scores: ``(n, k)`` raw scores of ``n`` enrolment against ``k`` test embeddings.
    enrol_cohort: ``(n, m)`` scores of the enrolment embeddings against the cohort.
    test_cohort: ``(k, m)`` scores of the test embeddings against the same cohort.
    Returns ``(n, k)`` float64 normalised scores. Raises
    :class:`~voxprint.errors.EmptyCohortError` when ``m == 0`` and
    :class:`~voxprint.errors.InvalidParameterError` on mismatched shapes.
    """
    raw = np.asarray(scores, dtype=np.float64)
    if raw.ndim != 2:
        raise InvalidParameterError(f"scores must be (n, k), got shape {raw.shape}")
    enrol_mean, enrol_std = cohort_statistics(enrol_cohort, top_k)
    test_mean, test_std = cohort_statistics(test_cohort, top_k)
    if enrol_mean.shape[0] != raw.shape[0] or test_mean.shape[0] != raw.shape[1]:
        raise InvalidParameterError(
            f"scores {raw.shape} do not match {enrol_mean.shape[0]} enrolment and "
            f"{test_mean.shape[0]} test cohort rows"
        )
    if np.shape(enrol_cohort)[1] != np.shape(test_cohort)[1]:
        raise InvalidParameterError(
            "enrolment and test sides were scored against different cohorts"
        )
    enrol_z = (raw - enrol_mean[:, None]) / enrol_std[:, None]
    test_z = (raw - test_mean[None, :]) / test_std[None, :]
    return 0.5 * (enrol_z + test_z)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    array = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)


@dataclass(frozen=True)
class AsNorm:
    """AS-Norm with a fixed cohort of impostor embeddings (cosine scoring).

    cohort: ``(m, dim)`` float32 embeddings of speakers who are none of the
    enrolled or tested speakers (it is L2-normalised on construction).
    top_k: how many of the highest cohort scores describe each embedding;
    clipped to ``m`` when the cohort is smaller.
    """

    cohort: np.ndarray
    top_k: int = DEFAULT_TOP_K
    _unit_cohort: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cohort = np.asarray(self.cohort, dtype=np.float32)
        if cohort.ndim != 2:
            raise InvalidParameterError(f"cohort must be (m, dim), got shape {cohort.shape}")
        if cohort.shape[0] == 0:
            raise EmptyCohortError("AS-Norm needs at least one cohort embedding")
        if self.top_k < 1:
            raise InvalidParameterError(f"top_k must be at least 1, got {self.top_k}")
        unit = _unit_rows(cohort)
        unit.setflags(write=False)
        object.__setattr__(self, "cohort", cohort)
        object.__setattr__(self, "_unit_cohort", unit)

    @property
    def dim(self) -> int:
        return int(self._unit_cohort.shape[1])

    def cohort_scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine of ``(n, dim)`` embeddings with every cohort row -> ``(n, m)`` float32."""
        unit = _unit_rows(embeddings)
        if unit.shape[1] != self.dim:
            raise InvalidParameterError(
                f"embeddings have dimension {unit.shape[1]}, the cohort has {self.dim}"
            )
        return np.clip(unit @ self._unit_cohort.T, -1.0, 1.0)

    def statistics(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cohort mean and std of each of ``(n, dim)`` embeddings -> two ``(n,)`` float64.

        Compute these once per enrolled profile and reuse them with
        :meth:`normalize_with`; they depend only on the embedding and the cohort.
        """
        return cohort_statistics(self.cohort_scores(embeddings), self.top_k)

    def normalize(self, enrol: np.ndarray, test: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Normalise raw scores of ``(n, dim)`` enrolment vs ``(k, dim)`` test embeddings.

        raw: ``(n, k)`` raw cosine scores (e.g. ``cosine_matrix(enrol, test)``).
        Returns ``(n, k)`` float64.
        """
        return self.normalize_with(self.statistics(enrol), self.statistics(test), raw)

    def normalize_with(
        self,
        enrol_stats: tuple[np.ndarray, np.ndarray],
        test_stats: tuple[np.ndarray, np.ndarray],
        raw: np.ndarray,
    ) -> np.ndarray:
        """Like :meth:`normalize`, from precomputed ``(n,)`` and ``(k,)`` (mean, std) pairs."""
        scores = np.atleast_2d(np.asarray(raw, dtype=np.float64))
        enrol_mean, enrol_std = (np.asarray(a, dtype=np.float64).ravel() for a in enrol_stats)
        test_mean, test_std = (np.asarray(a, dtype=np.float64).ravel() for a in test_stats)
        if scores.shape != (enrol_mean.shape[0], test_mean.shape[0]):
            raise InvalidParameterError(
                f"raw scores {scores.shape} do not match {enrol_mean.shape[0]} enrolment and "
                f"{test_mean.shape[0]} test embeddings"
            )
        enrol_z = (scores - enrol_mean[:, None]) / enrol_std[:, None]
        test_z = (scores - test_mean[None, :]) / test_std[None, :]
        return 0.5 * (enrol_z + test_z)
