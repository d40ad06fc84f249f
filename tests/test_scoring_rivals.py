"""A verify claim weighed against the namespace's other enrolled profiles."""

import math

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import probability
from voxprint.scoring.rivals import rival_penalty, standout


def test_no_rival_or_a_zero_weight_leaves_the_claim_as_it_was():
    assert rival_penalty(np.zeros(0), 1.0, 10) == 0.0
    assert rival_penalty(np.array([12.0]), 0.0, 1) == 0.0


def test_rivals_no_closer_than_strangers_barely_move_the_claim():
    assert rival_penalty(np.array([-5.0, -9.0, -4.0]), 1.0, 3) < 0.01


def test_a_twins_voice_pulls_a_claim_below_one_half_in_a_household():
    """Four profiles; the probe is the twin's (it explains the probe better than the
    claimed profile does)."""
    claim, twin = 8.0, 11.0
    assert probability(claim - rival_penalty(np.array([twin, -6.0, -7.0]), 1.0, 3)) < 0.5


def test_the_same_rival_weighs_less_in_a_larger_namespace():
    """Among a thousand profiles any one of them is a less likely impostor: the penalty
    shrinks as the other profiles (of which these are the best candidates) grow."""
    rivals = np.array([9.0, 1.0])
    small, large = rival_penalty(rivals, 1.0, 3), rival_penalty(rivals, 1.0, 100_000)
    assert small > 5.0 and large < 0.1


def test_the_penalty_is_the_log_of_one_plus_the_weighted_mean_likelihood_ratio():
    rivals = np.array([6.0, -3.0, 2.0])
    expected = math.log1p(0.5 * (math.exp(6.0) + math.exp(-3.0) + math.exp(2.0)) / 10)
    assert rival_penalty(rivals, 0.5, 10) == pytest.approx(expected)


def test_the_penalty_is_never_negative():
    for rivals in (np.array([-50.0]), np.array([-1e6, -1e6])):
        assert rival_penalty(rivals, 1.0, 5) >= 0.0


@pytest.mark.parametrize("weight", [-0.1, math.nan, math.inf])
def test_a_weight_that_is_not_a_finite_non_negative_number_is_refused(weight):
    with pytest.raises(InvalidParameterError, match="rival weight"):
        rival_penalty(np.array([1.0]), weight, 1)


def test_more_rivals_than_other_profiles_is_refused():
    with pytest.raises(InvalidParameterError, match="3 rivals among 2 other profiles"):
        rival_penalty(np.array([1.0, 2.0, 3.0]), 1.0, 2)


def test_a_voice_stands_out_by_its_cosine_less_the_mean_of_the_next_highest():
    cosines = np.array([0.1, 0.8, 0.3, 0.5, 0.2])
    assert standout(cosines, 1, 2) == pytest.approx(0.8 - (0.5 + 0.3) / 2)
    assert standout(cosines, 0, 1) == pytest.approx(0.1 - 0.8)  # not the best: below zero


def test_too_few_others_to_compare_with_give_no_standout():
    assert standout(np.array([0.8, 0.3, 0.2]), 0, 3) is None


def test_profiles_far_below_the_next_highest_never_change_the_standout_and_closer_ones_lower_it():
    cosines = np.array([0.8, 0.3, 0.5, 0.4])
    before = standout(cosines, 0, 2)
    assert standout(np.append(cosines, np.full(600, -0.2)), 0, 2) == before
    closer = standout(np.append(cosines, [0.7]), 0, 2)
    assert closer is not None and before is not None and closer < before


def test_a_standout_needs_one_other_and_a_cosine_that_exists():
    with pytest.raises(InvalidParameterError):
        standout(np.array([0.8, 0.3]), 0, 0)
    with pytest.raises(InvalidParameterError):
        standout(np.array([0.8, 0.3]), 2, 1)
