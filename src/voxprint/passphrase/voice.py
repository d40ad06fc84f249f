"""The voice part of text-dependent verification: an operating point for same-word claims.

A text-dependent profile's voiceprint is made of clips of its passphrase and every probe
says the passphrase too. Measured on same-word trials (``bench/passphrase_speakers.py``;
docs/benchmarks.md, "Passphrases and spoken challenges"), two things differ from the
any-words claims the built-in prior was fitted on:

* owners' cosines shrink far less with short speech: the duration shrinkage fits
  0.33-0.34 s on both Speech Commands keywords and FSDD digit triples (the prior: 0.87 s;
  both with the prior's speech offset, 0.15 s, which describes the voice detector, not
  the words);
* strangers saying the same words score higher too: on wideband keywords their mean,
  scaled to unlimited speech at that shrinkage, is 0.148 (the prior: 0.105). On 8 kHz
  digit triples it is 0.381, just below the narrowband prior's 0.383, which is kept.

The text-dependent prior is the encoder's prior with those values; thresholds,
adaptation to the namespace and calibration work as for any profile (a calibration
overrides both priors). An encoder without measured values keeps its prior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from voxprint.operating_points import UNCENTRED_PRIORS, ScoringPrior
from voxprint.store.records import Band


@dataclass(frozen=True)
class SameWordScores:
    """How same-word trials differ from an encoder's prior: the duration shrinkage, and
    the impostor mean per band where it is higher (others keep the prior's)."""

    shrink_seconds: float
    impostor_means: Mapping[Band, float]


#: Fitted by ``bench/passphrase_speakers.py`` on Speech Commands and FSDD.
TEXT_DEPENDENT_SCORES: dict[str, SameWordScores] = {
    "campplus": SameWordScores(shrink_seconds=0.33, impostor_means={Band.WIDE: 0.148}),
}


def text_dependent_prior(prior: ScoringPrior, encoder_name: str = "campplus") -> ScoringPrior:
    """``prior`` with the same-word shrinkage and impostor means of ``encoder_name``
    (unchanged when none were measured). An impostor mean only ever rises, with its
    floor: same words make strangers more alike, never less. The same-word scores were
    measured on cosines as they are: where ``prior`` centres them, the encoder's
    uncentred prior is the base (:data:`voxprint.operating_points.UNCENTRED_PRIORS`)."""
    scores = TEXT_DEPENDENT_SCORES.get(encoder_name)
    if scores is None:
        return prior
    if prior.centre is not None:
        prior = UNCENTRED_PRIORS.get(encoder_name, replace(prior, centre=None))
    impostors = {}
    for band, impostor in prior.impostors.items():
        mean = max(impostor.mean, scores.impostor_means.get(band, impostor.mean))
        shift = mean - impostor.mean
        impostors[band] = replace(impostor, mean=mean, mean_floor=impostor.mean_floor + shift)
    return replace(
        prior,
        impostors=impostors,
        shrink_seconds=scores.shrink_seconds,
        source=f"{prior.source}; text-dependent (same words), bench/passphrase_speakers.py",
    )
