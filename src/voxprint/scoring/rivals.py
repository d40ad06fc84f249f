"""A claim weighed against the other enrolled voices it could be ("rivals").

A verification score is the probability that a claim is true against the alternative
"someone else". The impostor model describes that someone as a stranger. In a namespace
the likeliest impostor is often someone enrolled (a sibling, a colleague): two young
brothers score as high against each other's voiceprints as against their own, and a claim
on one with the other's voice was accepted at 0.999.

Here the alternative is a mixture: a stranger, or, with total weight ``w`` against the
stranger's 1, one of the namespace's ``m`` other enrolled profiles, each equally likely.
The likelihood ratio of the claim becomes ``LR_claim / (1 + w * sum_j LR_j / m)``, in log
form::

    llr' = llr_claim - log(1 + (w / m) * sum_j exp(llr_j))

This is identify's open-set rule seen from one claim: a larger namespace makes any one
of its profiles a less likely impostor, so only a rival that explains the probe far
better than strangers do moves the score. Among a handful of profiles a sibling's voice
pulls a claim on its twin below one half. Profiles the probe is no closer to than a
stranger add almost nothing, and the correction never raises a score. Only the best
candidates need their likelihood ratios: the others' are far below.

:func:`standout` measures the same thing in cosines, for the decision code's guard
against a namespace whose impostor model was moved (:attr:`voxprint.decision.
OperatingPoint.standout_margin`): how far the best voice stands above the next few.
Profiles enrolled far from a probe never count among its next few, so no number of
them can lower it. Pure numpy; no decisions here.
"""

from __future__ import annotations

import math

import numpy as np

from voxprint.errors import InvalidParameterError


def rival_penalty(rival_llrs: np.ndarray, weight: float, others: int) -> float:
    """How much ``(k,)`` rival log-likelihood ratios lower a claim's log-likelihood ratio,
    when the namespace holds ``others`` profiles besides the claimed one (the rivals are
    the best ``k`` of them) and they weigh ``weight`` (``>= 0``) together against a
    stranger. 0 with no rival or weight 0; never negative."""
    if not (math.isfinite(weight) and weight >= 0.0):
        raise InvalidParameterError("a rival weight is a finite number of at least 0")
    values = np.asarray(rival_llrs, dtype=np.float64).ravel()
    if weight == 0.0 or values.size == 0:
        return 0.0
    if others < values.size:
        raise InvalidParameterError(f"{values.size} rivals among {others} other profiles")
    spread = math.log(weight / others)
    return float(np.logaddexp(0.0, spread + np.logaddexp.reduce(values)))


def standout(cosines: np.ndarray, best: int, others: int) -> float | None:
    """How far ``cosines[best]`` stands above the mean of the ``others`` highest of the
    rest of the ``(n,)`` ``cosines`` (a probe's, with each candidate profile's
    voiceprint); ``None`` when fewer than ``others`` (``>= 1``) remain to compare with.

    Adding profiles can only raise the highest of the rest, so no number of profiles
    enrolled beside the real ones lifts it."""
    if others < 1:
        raise InvalidParameterError("a standout is measured against at least one other")
    values = np.asarray(cosines, dtype=np.float64).ravel()
    if not 0 <= best < values.size:
        raise InvalidParameterError(f"no cosine {best} among {values.size}")
    rest = np.delete(values, best)
    if rest.size < others:
        return None
    highest = np.partition(rest, rest.size - others)[rest.size - others :]
    return float(values[best] - highest.mean())
