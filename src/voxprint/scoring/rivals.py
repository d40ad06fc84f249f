"""A claim weighed against the other enrolled voices it could be ("rivals").

A verification score is the probability that a claim is true against the alternative
"someone else". The impostor model describes that someone as a stranger. In a namespace
where the likeliest impostor is someone enrolled (a sibling, a colleague), a stranger is
the wrong alternative: two young brothers score as high against each other's voiceprints
as against their own, and a claim on one with the other's voice was accepted at 0.999.

Here the alternative is a mixture: a stranger with weight 1, plus the enrolled profile the
probe resembles most (the strongest rival) with weight ``w``. The likelihood ratio of the
claim becomes ``LR_claim / (1 + w * LR_rival)``, in log form::

    llr' = llr_claim - log(1 + w * exp(max(llr_rivals)))

A rival no closer than a stranger (``llr_rival`` well below ``-log(w)``) leaves the score as
it was. With as much evidence for the rival as for the claimed profile the score is at
most ``1 / (1 + w)`` (0.95 at the default 0.05), and a rival that explains the probe
clearly better pulls it towards 0. The correction never raises a score. Pure numpy; no
decisions here.
"""

from __future__ import annotations

import math

import numpy as np

from voxprint.errors import InvalidParameterError


def rival_penalty(rival_llrs: np.ndarray, weight: float) -> float:
    """How much the strongest of ``(k,)`` rival log-likelihood ratios lowers a claim's
    log-likelihood ratio at mixture ``weight`` (``>= 0``; 0 with no rival or weight 0)."""
    if not 0.0 <= weight <= 1.0:
        raise InvalidParameterError("a rival weight lies between 0 and 1")
    values = np.asarray(rival_llrs, dtype=np.float64).ravel()
    if weight == 0.0 or values.size == 0:
        return 0.0
    return float(np.logaddexp(0.0, math.log(weight) + float(values.max())))
