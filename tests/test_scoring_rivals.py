"""A verify claim weighed against the enrolled profile the probe resembles most."""

import math

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import probability
from voxprint.scoring.rivals import rival_penalty


def test_no_rival_or_a_zero_weight_leaves_the_claim_as_it_was():
    assert rival_penalty(np.zeros(0), 0.05) == 0.0
    assert rival_penalty(np.array([12.0]), 0.0) == 0.0


def test_a_rival_no_closer_than_a_stranger_barely_moves_the_claim():
    assert rival_penalty(np.array([-5.0, -9.0]), 0.05) < 1e-3


def test_with_equal_evidence_for_the_claim_and_a_rival_the_score_is_at_most_one_in_one_plus_w():
    for llr in (4.0, 8.0, 16.0):
        score = probability(llr - rival_penalty(np.array([llr]), 0.05))
        assert score <= 1 / 1.05 + 1e-9


def test_a_rival_closer_than_the_claimed_profile_pulls_the_score_below_one_half():
    assert probability(8.0 - rival_penalty(np.array([11.0]), 0.05)) < 0.5


def test_only_the_strongest_rival_counts():
    assert rival_penalty(np.array([6.0, -3.0, 2.0]), 0.1) == pytest.approx(
        math.log1p(0.1 * math.exp(6.0))
    )


@pytest.mark.parametrize("weight", [-0.1, 1.5, math.nan])
def test_a_weight_outside_zero_to_one_is_refused(weight):
    with pytest.raises(InvalidParameterError, match="between 0 and 1"):
        rival_penalty(np.array([1.0]), weight)
