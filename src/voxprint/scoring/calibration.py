"""Logistic calibration: raw cosine -> probability that two voices are the same speaker.

The calibrated score is ``sigmoid(slope * cosine + offset)``. It is fitted on
labelled trials by weighted logistic regression with an effective target prior
(0.5 by default, so target and non-target trials weigh the same however many
there are of each). This is a score transform only; accepting or rejecting is
the job of :mod:`voxprint.decision`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.errors import InvalidParameterError


@dataclass(frozen=True)
class ScoreCalibration:
    """Maps a raw cosine to a probability of same speaker in [0, 1]."""

    slope: float
    offset: float

    def __call__(self, cosine: float) -> float:
        return float(self.probabilities(np.asarray([cosine]))[0])

    def probabilities(self, cosines: np.ndarray) -> np.ndarray:
        """``(n,)`` cosines -> ``(n,)`` float64 probabilities."""
        logits = self.slope * np.asarray(cosines, dtype=np.float64) + self.offset
        return 1.0 / (1.0 + np.exp(-logits))

    def cosine_at(self, probability: float) -> float:
        """The cosine whose calibrated score equals ``probability`` (inverse map)."""
        if not 0.0 < probability < 1.0:
            raise InvalidParameterError("probability must be strictly between 0 and 1")
        return float((np.log(probability / (1.0 - probability)) - self.offset) / self.slope)


def fit_calibration(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    *,
    prior: float = 0.5,
    l2: float = 1e-6,
) -> ScoreCalibration:
    """Fit ``slope`` and ``offset`` by prior-weighted logistic regression.

    target_scores: ``(t,)`` cosines of same-speaker trials.
    nontarget_scores: ``(u,)`` cosines of different-speaker trials.
    ``l2`` is a small ridge on the (standardised) slope that keeps it finite
    when the two classes barely overlap.
    """
    target = np.asarray(target_scores, dtype=np.float64).ravel()
    nontarget = np.asarray(nontarget_scores, dtype=np.float64).ravel()
    if target.size == 0 or nontarget.size == 0:
        raise InvalidParameterError("calibration needs both target and non-target scores")
    if not 0.0 < prior < 1.0:
        raise InvalidParameterError("prior must be strictly between 0 and 1")
    prior_logit = np.log(prior / (1.0 - prior))
    # Standardise the scores so the optimiser works on a well-scaled problem.
    centre = float(np.mean(np.concatenate([target, nontarget])))
    scale = max(float(np.std(np.concatenate([target, nontarget]))), 1e-6)
    zt, zn = (target - centre) / scale, (nontarget - centre) / scale

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = params
        lt = a * zt + b + prior_logit
        ln = a * zn + b + prior_logit
        # softplus(-x) = -log(sigmoid(x)), computed stably.
        value = prior * np.logaddexp(0.0, -lt).mean() + (1 - prior) * np.logaddexp(0.0, ln).mean()
        st = -0.5 * (1.0 - np.tanh(0.5 * lt))  # d softplus(-x)/dx = -sigmoid(-x)
        sn = 0.5 * (1.0 + np.tanh(0.5 * ln))  # d softplus(x)/dx = sigmoid(x)
        grad_a = prior * (st * zt).mean() + (1 - prior) * (sn * zn).mean() + 2 * l2 * a
        grad_b = prior * st.mean() + (1 - prior) * sn.mean()
        return float(value + l2 * a**2), np.array([grad_a, grad_b])

    from scipy.optimize import minimize  # only fitting needs it (~0.2 s to import)

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="BFGS", options={"gtol": 1e-10})
    a, b = (float(v) for v in result.x)
    return ScoreCalibration(slope=a / scale, offset=b - a * centre / scale)
