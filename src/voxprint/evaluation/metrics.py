"""Pure verification and identification metrics with known answers.

Convention: a trial is accepted when its score is ``>= threshold``. Higher
scores mean "more likely the same speaker".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.errors import InvalidParameterError


@dataclass(frozen=True)
class ErrorRates:
    """False-accept and false-reject rates at each candidate threshold, all ``(k,)``.

    Thresholds ascend; ``false_accept`` falls and ``false_reject`` rises along them.
    """

    thresholds: np.ndarray
    false_accept: np.ndarray
    false_reject: np.ndarray


def _as_scores(name: str, scores: np.ndarray) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64).ravel()
    if array.size == 0:
        raise InvalidParameterError(f"{name} scores are empty")
    if not np.all(np.isfinite(array)):
        raise InvalidParameterError(f"{name} scores contain NaN or infinity")
    return array


def error_rates(target_scores: np.ndarray, nontarget_scores: np.ndarray) -> ErrorRates:
    """False-accept and false-reject rates at every distinct score, plus one above them all."""
    target = np.sort(_as_scores("target", target_scores))
    nontarget = np.sort(_as_scores("non-target", nontarget_scores))
    candidates = np.unique(np.concatenate([target, nontarget]))
    thresholds = np.concatenate([candidates, [np.inf]])
    false_reject = np.searchsorted(target, thresholds, side="left") / target.size
    false_accept = 1.0 - np.searchsorted(nontarget, thresholds, side="left") / nontarget.size
    return ErrorRates(thresholds, false_accept, false_reject)


def equal_error_rate(
    target_scores: np.ndarray, nontarget_scores: np.ndarray
) -> tuple[float, float]:
    """Equal error rate and the threshold where it occurs.

    Returns ``(eer, threshold)`` with ``eer`` in [0, 1]. Between the two
    neighbouring thresholds where the false-reject rate overtakes the
    false-accept rate, the EER is the crossing of the straight lines joining
    them; the threshold is the midpoint of those two scores.
    """
    rates = error_rates(target_scores, nontarget_scores)
    difference = rates.false_reject - rates.false_accept  # rises from <= 0 to >= 0
    index = int(np.searchsorted(difference, 0.0, side="left"))
    if index == 0:
        return float(rates.false_accept[0]), float(rates.thresholds[0])
    lo, hi = index - 1, index
    d_lo, d_hi = difference[lo], difference[hi]
    weight = 0.0 if d_hi == d_lo else -d_lo / (d_hi - d_lo)
    eer_far = rates.false_accept[lo] + weight * (rates.false_accept[hi] - rates.false_accept[lo])
    eer_frr = rates.false_reject[lo] + weight * (rates.false_reject[hi] - rates.false_reject[lo])
    t_lo = rates.thresholds[lo]
    t_hi = rates.thresholds[hi] if np.isfinite(rates.thresholds[hi]) else t_lo
    return float(0.5 * (eer_far + eer_frr)), float(0.5 * (t_lo + t_hi))


def min_dcf(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    *,
    p_target: float = 0.01,
    cost_miss: float = 1.0,
    cost_false_alarm: float = 1.0,
) -> tuple[float, float]:
    """Minimum normalised detection cost and the threshold that reaches it.

    ``DCF(t) = C_miss * P_t * FRR(t) + C_fa * (1 - P_t) * FAR(t)``, divided by
    the cost of the best trivial system ``min(C_miss * P_t, C_fa * (1 - P_t))``.
    """
    if not 0.0 < p_target < 1.0:
        raise InvalidParameterError("p_target must be strictly between 0 and 1")
    rates = error_rates(target_scores, nontarget_scores)
    costs = (
        cost_miss * p_target * rates.false_reject
        + cost_false_alarm * (1.0 - p_target) * rates.false_accept
    )
    normaliser = min(cost_miss * p_target, cost_false_alarm * (1.0 - p_target))
    best = int(np.argmin(costs))
    return float(costs[best] / normaliser), float(rates.thresholds[best])


def false_accept_threshold(nontarget_scores: np.ndarray, false_accept_rate: float) -> float:
    """Smallest threshold whose false-accept rate on these scores is at most the target."""
    if not 0.0 <= false_accept_rate < 1.0:
        raise InvalidParameterError("false_accept_rate must be in [0, 1)")
    nontarget = np.sort(_as_scores("non-target", nontarget_scores))
    allowed = int(np.floor(false_accept_rate * nontarget.size))
    # Accept if score >= t: put t just above the (allowed+1)-th highest impostor.
    index = nontarget.size - allowed - 1
    return float(np.nextafter(nontarget[index], np.inf))


def top1_accuracy(score_matrix: np.ndarray, true_columns: np.ndarray) -> float:
    """Closed-set identification accuracy.

    score_matrix: ``(n_tests, n_gallery)``; true_columns: ``(n_tests,)`` int,
    the gallery column of each test's true speaker.
    """
    scores = np.asarray(score_matrix)
    truth = np.asarray(true_columns).ravel()
    if scores.ndim != 2 or scores.shape[0] != truth.size or truth.size == 0:
        raise InvalidParameterError(
            "score matrix must be (n_tests, n_gallery) with one label per test"
        )
    return float(np.mean(np.argmax(scores, axis=1) == truth))


def real_time_factor(processing_seconds: float, audio_seconds: float) -> float:
    """Processing time per second of audio (below 1 is faster than real time)."""
    if audio_seconds <= 0:
        raise InvalidParameterError("audio duration must be positive")
    return processing_seconds / audio_seconds
