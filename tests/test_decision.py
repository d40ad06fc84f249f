"""Thresholds and decisions, kept apart from scores."""

import numpy as np
import pytest
from scipy.stats import norm

from voxprint.decision import Decision, IdentificationPolicy, ImpostorModel, VerificationPolicy
from voxprint.errors import InvalidParameterError


def test_verification_accepts_at_or_above_the_threshold_and_rejects_below():
    policy = VerificationPolicy(threshold=0.4)
    assert policy.decide(0.4) is Decision.ACCEPT
    assert policy.decide(0.9) is Decision.ACCEPT
    assert policy.decide(0.39) is Decision.REJECT


def test_identification_threshold_grows_with_the_gallery():
    policy = IdentificationPolicy(ImpostorModel(mean=0.05, std=0.08), false_alarm_rate=0.01)
    thresholds = [policy.threshold(n) for n in (1, 10, 100, 1000)]
    assert thresholds == sorted(thresholds)
    assert thresholds[0] == pytest.approx(0.05 + 0.08 * norm.ppf(0.99))


def test_identification_threshold_keeps_the_false_alarm_rate_for_a_gallery_of_impostors(rng):
    impostors = ImpostorModel(mean=0.0, std=0.1)
    policy = IdentificationPolicy(impostors, false_alarm_rate=0.05)
    gallery_size = 50
    best = rng.normal(0.0, 0.1, size=(20000, gallery_size)).max(axis=1)
    false_alarms = np.mean(best >= policy.threshold(gallery_size))
    assert false_alarms == pytest.approx(0.05, abs=0.008)


def test_a_fixed_identification_threshold_overrides_the_gallery_rule():
    policy = IdentificationPolicy(ImpostorModel(0.0, 0.1), fixed_threshold=0.5)
    assert policy.threshold(1) == policy.threshold(10000) == 0.5
    assert policy.decide(0.49, 3) is Decision.REJECT


def test_policies_refuse_impossible_parameters():
    with pytest.raises(InvalidParameterError):
        IdentificationPolicy(ImpostorModel(0.0, 0.1), false_alarm_rate=1.5)
    with pytest.raises(InvalidParameterError):
        ImpostorModel(0.0, 0.0)
