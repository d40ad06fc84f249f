"""Score models: cosines to log-likelihood ratios that know how much speech each side had."""

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import (
    NOISE_FACTOR_FLOOR,
    ConditionModel,
    ImpostorScores,
    LogisticModel,
    TargetScores,
    logit,
    noise_factor,
    probability,
    shrink_factor,
)

MODEL = ConditionModel(
    ImpostorScores(mean=0.1, std=0.1),
    TargetScores(ceiling=0.92, std_floor=0.08, std_short=0.035),
    shrink_seconds=0.84,
)


def test_shrinkage_is_strong_for_short_speech_and_vanishes_for_long():
    assert shrink_factor(0.4, 0.84) < 0.6
    assert shrink_factor(100.0, 0.84) > 0.99
    assert shrink_factor(0.0, 0.84) > 0  # no division by zero


def test_a_speech_offset_softens_the_shrinkage_of_the_shortest_clips_only():
    """Speech the detector missed but the encoder heard: a 0.1 s clip shrinks far less,
    a minute of speech as good as not at all."""
    assert shrink_factor(0.1, 0.84, 0.2) > shrink_factor(0.1, 0.84) + 0.15
    assert shrink_factor(60.0, 0.84, 0.2) == pytest.approx(shrink_factor(60.0, 0.84), abs=0.002)
    offset = ConditionModel(MODEL.impostors, MODEL.targets, 0.84, speech_offset=0.2)
    assert offset.target_mean(0.1, 20.0) > MODEL.target_mean(0.1, 20.0) + 0.1
    assert offset.impostor_mean(0.1) > MODEL.impostor_mean(0.1)


def test_the_llr_rises_with_the_cosine_everywhere_even_past_the_target_mean():
    cosines = np.linspace(-1, 1, 401)
    for seconds in (0.3, 1.0, 5.0, 30.0):
        llr = MODEL.llr(cosines, seconds, np.full(cosines.shape, 20.0))
        assert np.all(np.diff(llr) > 0), seconds


def test_a_typical_stranger_is_evidence_against_and_a_typical_owner_for():
    enrol = np.array([20.0])
    assert MODEL.llr(np.array([0.1]), 5.0, enrol)[0] < -5
    assert MODEL.llr(np.array([0.85]), 5.0, enrol)[0] > 5


def test_the_same_cosine_says_more_after_one_second_than_after_ten():
    """Short speech pulls an owner's cosine down, so 0.5 is a good sign at 0.5 s and a
    poor one at 10 s."""
    enrol = np.array([20.0])
    short = MODEL.llr(np.array([0.5]), 0.5, enrol)[0]
    long = MODEL.llr(np.array([0.5]), 10.0, enrol)[0]
    assert short > long


def test_strangers_who_score_higher_in_a_domain_need_a_higher_cosine():
    narrow = ConditionModel(ImpostorScores(0.35, 0.1), MODEL.targets, MODEL.shrink_seconds)
    wide_needs = MODEL.cosine_for_llr(logit(0.9), 3.0, 20.0)
    narrow_needs = narrow.cosine_for_llr(logit(0.9), 3.0, 20.0)
    assert narrow_needs > wide_needs + 0.1


NOISY = ConditionModel(
    MODEL.impostors,
    TargetScores(ceiling=0.92, std_floor=0.08, std_short=0.035, noise_scale=1.4),
    shrink_seconds=0.84,
)


def test_noise_shrinks_the_owner_cosine_and_an_unmeasured_snr_counts_as_clean():
    assert noise_factor(40.0, 1.4) > 0.999
    assert 0.6 < noise_factor(3.0, 1.4) < 0.85
    assert noise_factor(None, 1.4) == 1.0
    assert noise_factor(np.nan, 1.4) == 1.0
    assert noise_factor(-20.0, 1.4) == NOISE_FACTOR_FLOOR
    assert noise_factor(0.0, 0.0) == 1.0  # a model without the noise term


def test_the_same_cosine_says_more_from_a_noisy_probe_than_from_a_clean_one():
    """Noise pulls an owner's cosine down but leaves strangers' where they were, so 0.55 is
    a good sign at a 3 dB level SNR and a poor one from clean audio."""
    enrol = np.array([20.0])
    noisy = NOISY.llr(np.array([0.55]), 3.0, enrol, 3.0)[0]
    clean = NOISY.llr(np.array([0.55]), 3.0, enrol, 40.0)[0]
    unmeasured = NOISY.llr(np.array([0.55]), 3.0, enrol, None)[0]
    assert noisy > clean + 2
    assert unmeasured == pytest.approx(clean, abs=0.01)
    assert NOISY.cosine_for_llr(logit(0.9), 3.0, 20.0, 3.0) < NOISY.cosine_for_llr(
        logit(0.9), 3.0, 20.0, 40.0
    )


def test_the_llr_still_rises_with_the_cosine_at_the_lowest_snr():
    cosines = np.linspace(-1, 1, 401)
    for seconds in (0.3, 3.0):
        llr = NOISY.llr(cosines, seconds, np.full(cosines.shape, 20.0), -20.0)
        assert np.all(np.diff(llr) > 0), seconds


def test_an_ordinary_owner_carries_more_evidence_with_more_speech_and_less_noise():
    short = NOISY.owner_llr(0.5, 20.0, None, 1.0)
    long = NOISY.owner_llr(5.0, 20.0, None, 1.0)
    assert short is not None and long is not None and short < long
    typical = NOISY.owner_llr(0.5, 20.0, None, 0.0)
    assert typical is not None and typical > short
    assert LogisticModel(10.0, -5.0).owner_llr(5.0, 20.0, None, 1.0) is None


def test_cosine_for_llr_inverts_the_llr():
    cosine = MODEL.cosine_for_llr(2.0, 3.0, 20.0)
    assert MODEL.llr(np.array([cosine]), 3.0, np.array([20.0]))[0] == pytest.approx(2.0, abs=1e-6)
    assert MODEL.cosine_for_llr(1e6, 3.0, 20.0) == 1.0  # out of reach: the bound


def test_a_logistic_model_ignores_durations():
    model = LogisticModel(slope=10.0, offset=-4.0)
    assert model.llr(np.array([0.4]), 0.1, np.array([1.0]))[0] == pytest.approx(0.0)
    assert model.llr(np.array([0.4]), 99.0, np.array([99.0]))[0] == pytest.approx(0.0)


def test_probability_and_logit_are_inverse_and_stable_at_the_extremes():
    assert probability(logit(0.9)) == pytest.approx(0.9)
    assert probability(1e4) == 1.0 and probability(-1e4) == 0.0
    with pytest.raises(InvalidParameterError):
        logit(1.0)


def test_models_refuse_impossible_parameters():
    with pytest.raises(InvalidParameterError):
        ImpostorScores(0.1, 0.0)
    with pytest.raises(InvalidParameterError):
        ImpostorScores(0.1, 0.1, dof=2.0)
    with pytest.raises(InvalidParameterError):
        TargetScores(0.9, 0.0, 0.01)
    with pytest.raises(InvalidParameterError):
        TargetScores(0.9, 0.08, 0.01, noise_scale=-1.0)
    with pytest.raises(InvalidParameterError):
        ConditionModel(MODEL.impostors, MODEL.targets, shrink_seconds=0.0)
    with pytest.raises(InvalidParameterError):
        ConditionModel(MODEL.impostors, MODEL.targets, 0.84, speech_offset=-0.1)


def test_cosine_for_llr_finds_the_smallest_cosine_that_reaches_the_llr():
    for probe_seconds, snr in ((0.8, None), (3.0, 3.0), (12.0, 30.0)):
        cosine = NOISY.cosine_for_llr(1.5, probe_seconds, 20.0, snr)
        below, at = NOISY.llr(
            np.array([cosine - 1e-9, cosine]), probe_seconds, np.array([20.0]), snr
        )
        assert below < 1.5 <= at
    assert MODEL.cosine_for_llr(-1e6, 3.0, 20.0) == -1.0  # every cosine reaches it
