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
candidates need their likelihood ratios: the others' are far below. Pure numpy; no
decisions here.
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
