"""The text-dependent operating point: the prior with same-word shrinkage and impostors."""

import numpy as np

from voxprint.operating_points import DEFAULT_PRIORS, UNCENTRED_PRIORS
from voxprint.passphrase.voice import TEXT_DEPENDENT_SCORES, text_dependent_prior
from voxprint.scorer import Probe, Scorer
from voxprint.store.records import Band


def test_campplus_same_word_claims_use_the_measured_shrinkage_and_raised_impostor_mean():
    """On cosines as they are: the same-word scores were measured on them, so the base is
    the uncentred prior whatever the service's prior centres."""
    same_words = text_dependent_prior(DEFAULT_PRIORS["campplus"], "campplus")
    prior = UNCENTRED_PRIORS["campplus"]
    assert same_words.centre is None and prior.centre is None
    assert same_words.shrink_seconds == TEXT_DEPENDENT_SCORES["campplus"].shrink_seconds
    wide, narrow = same_words.impostors[Band.WIDE], same_words.impostors[Band.NARROW]
    assert wide.mean > prior.impostors[Band.WIDE].mean
    assert wide.mean_floor - prior.impostors[Band.WIDE].mean_floor == wide.mean - (
        prior.impostors[Band.WIDE].mean
    )
    assert narrow == prior.impostors[Band.NARROW]  # never lowered
    assert "text-dependent" in same_words.source


def test_an_encoder_without_measured_same_word_scores_keeps_its_prior():
    prior = DEFAULT_PRIORS["ge2e"]
    assert text_dependent_prior(prior, "ge2e") is prior


def test_a_short_same_word_claim_needs_a_higher_cosine_as_strangers_saying_it_score_higher():
    prior = UNCENTRED_PRIORS["campplus"]
    rng = np.random.default_rng(0)
    voiceprint = rng.normal(size=192).astype(np.float32)
    voiceprint /= np.linalg.norm(voiceprint)
    noise = rng.normal(size=192).astype(np.float32)
    noise -= (noise @ voiceprint) * voiceprint
    noise /= np.linalg.norm(noise)
    probe = (0.68 * voiceprint + np.sqrt(1 - 0.68**2) * noise).astype(np.float32)  # cosine 0.68
    claim = Probe(probe, 0.55, 8000.0)
    any_words = Scorer(prior.operating_point()).verify(claim, voiceprint, 1.1)
    same_words = Scorer(text_dependent_prior(DEFAULT_PRIORS["campplus"]).operating_point()).verify(
        claim, voiceprint, 1.1
    )
    assert same_words.cosine == any_words.cosine
    assert same_words.cosine_threshold > any_words.cosine_threshold  # strangers run higher
