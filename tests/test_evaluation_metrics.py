"""Known-answer tests of the verification and identification metrics."""

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.evaluation.metrics import (
    equal_error_rate,
    error_rates,
    false_accept_threshold,
    min_dcf,
    real_time_factor,
    top1_accuracy,
)


def test_perfectly_separated_scores_have_zero_eer_and_a_threshold_between_the_classes():
    eer, threshold = equal_error_rate(np.array([0.8, 0.9, 0.95]), np.array([0.1, 0.2, 0.3]))
    assert eer == 0.0
    assert 0.3 < threshold <= 0.8


def test_fully_inverted_scores_have_an_eer_of_one_hundred_percent():
    eer, _ = equal_error_rate(np.array([0.1, 0.2]), np.array([0.8, 0.9]))
    assert eer == pytest.approx(1.0)


def test_identical_score_distributions_have_an_eer_near_fifty_percent(rng):
    scores = rng.normal(size=20000)
    eer, _ = equal_error_rate(scores[:10000], scores[10000:])
    assert eer == pytest.approx(0.5, abs=0.02)


def test_one_overlapping_pair_in_four_gives_the_expected_eer():
    # targets 0.4 0.6 0.7 0.8 ; non-targets 0.1 0.2 0.3 0.5
    # at t in (0.4, 0.5]: FRR 1/4, FAR 1/4 -> EER 25 %
    eer, threshold = equal_error_rate(
        np.array([0.4, 0.6, 0.7, 0.8]), np.array([0.1, 0.2, 0.3, 0.5])
    )
    assert eer == pytest.approx(0.25)
    assert 0.4 <= threshold <= 0.5


def test_gaussian_classes_give_the_analytic_eer(rng):
    # Two unit normals two standard deviations apart: EER = Phi(-1) = 15.87 %.
    target = rng.normal(2.0, 1.0, 200000)
    nontarget = rng.normal(0.0, 1.0, 200000)
    eer, threshold = equal_error_rate(target, nontarget)
    assert eer == pytest.approx(0.1587, abs=0.003)
    assert threshold == pytest.approx(1.0, abs=0.03)


def test_error_rates_move_in_opposite_directions_along_the_thresholds(rng):
    rates = error_rates(rng.normal(1, 1, 500), rng.normal(0, 1, 500))
    assert np.all(np.diff(rates.thresholds) > 0)
    assert np.all(np.diff(rates.false_accept) <= 0)
    assert np.all(np.diff(rates.false_reject) >= 0)
    assert rates.false_reject[0] == 0.0 and rates.false_accept[-1] == 0.0


def test_min_dcf_is_zero_for_separated_scores_and_one_for_useless_ones(rng):
    value, _ = min_dcf(np.array([0.9, 0.8]), np.array([0.1, 0.2]))
    assert value == 0.0
    same = rng.normal(size=4000)
    useless, _ = min_dcf(same[:2000], same[2000:])
    assert useless == pytest.approx(1.0, abs=0.05)
    assert useless <= 1.0


def test_min_dcf_counts_a_single_false_accept_with_its_prior_weight():
    # 100 targets all above, 100 non-targets with one above every target.
    target = np.linspace(0.6, 0.9, 100)
    nontarget = np.concatenate([np.linspace(0.0, 0.3, 99), [0.95]])
    value, _ = min_dcf(target, nontarget, p_target=0.01)
    # Either accept the impostor (FAR 1 %: cost 0.99*0.01/0.01 = 0.99) or reject every target
    # (FRR 100 %: cost 1.0); the minimum is 0.99.
    assert value == pytest.approx(0.99)


def test_metrics_reject_empty_or_non_finite_scores():
    with pytest.raises(InvalidParameterError):
        equal_error_rate(np.array([]), np.array([0.1]))
    with pytest.raises(InvalidParameterError):
        min_dcf(np.array([np.nan]), np.array([0.1]))
    with pytest.raises(InvalidParameterError):
        min_dcf(np.array([0.5]), np.array([0.1]), p_target=0.0)


def test_false_accept_threshold_lets_through_at_most_the_target_rate(rng):
    nontarget = rng.normal(size=1000)
    threshold = false_accept_threshold(nontarget, 0.01)
    assert np.mean(nontarget >= threshold) <= 0.01
    assert np.mean(nontarget >= np.nextafter(threshold, -np.inf) - 1e-9) > 0.009


def test_top1_accuracy_counts_rows_whose_best_column_is_the_truth():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.1, 0.7], [0.3, 0.4, 0.2]])
    assert top1_accuracy(scores, np.array([0, 2, 0])) == pytest.approx(2 / 3)
    with pytest.raises(InvalidParameterError):
        top1_accuracy(scores, np.array([0, 1]))


def test_real_time_factor_is_processing_time_per_audio_second():
    assert real_time_factor(2.0, 100.0) == pytest.approx(0.02)
    with pytest.raises(InvalidParameterError):
        real_time_factor(1.0, 0.0)
