"""The voice part of text-dependent verification: an operating point for same-word claims.

A text-dependent profile's voiceprint is made of clips of its passphrase and every probe
says the passphrase too, so the owner's cosines shrink less with short speech than the
built-in prior assumes for any-words claims. The text-dependent prior is the encoder's
prior with the duration shrinkage fitted on same-word owner trials
(``bench/passphrase_speakers.py``; docs/benchmarks.md, "Passphrases and spoken
challenges"); everything else (impostor model, adaptation, thresholds) is the prior's. An
encoder without a measured value keeps its prior.
"""

from __future__ import annotations

from dataclasses import replace

from voxprint.operating_points import ScoringPrior

#: Duration shrinkage (seconds) of same-word trials per encoder, fitted by
#: ``bench/passphrase_speakers.py``.
TEXT_DEPENDENT_SHRINK_SECONDS: dict[str, float] = {}


def text_dependent_prior(prior: ScoringPrior, encoder_name: str = "campplus") -> ScoringPrior:
    """``prior`` with the same-word duration shrinkage of ``encoder_name`` (unchanged when
    none was measured)."""
    shrink = TEXT_DEPENDENT_SHRINK_SECONDS.get(encoder_name)
    if shrink is None:
        return prior
    return replace(
        prior, shrink_seconds=shrink, source=f"{prior.source}; same-word shrinkage {shrink:g} s"
    )
