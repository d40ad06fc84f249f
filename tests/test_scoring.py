"""Similarity and calibration: scores only, no decisions."""

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.scoring import (
    ScoreCalibration,
    cosine_matrix,
    cosine_scores,
    cosine_similarity,
    fit_calibration,
    l2_normalise,
)


def test_cosine_similarity_of_a_vector_with_itself_is_one_and_with_its_negation_minus_one(rng):
    v = rng.normal(size=192).astype(np.float32)
    assert cosine_similarity(v, v) == pytest.approx(1.0, abs=1e-6)
    assert cosine_similarity(v, -v) == pytest.approx(-1.0, abs=1e-6)


def test_cosine_similarity_of_orthogonal_vectors_is_zero_and_of_a_zero_vector_is_zero():
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == 0.0
    assert cosine_similarity(np.zeros(4), np.ones(4)) == 0.0


def test_cosine_similarity_refuses_vectors_of_different_dimensions():
    with pytest.raises(InvalidParameterError):
        cosine_similarity(np.ones(192), np.ones(256))


def test_l2_normalise_gives_unit_rows_in_float32_and_keeps_zero_rows_finite(rng):
    rows = l2_normalise(np.vstack([rng.normal(size=(3, 8)), np.zeros((1, 8))]))
    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows[:3], axis=1), 1.0, atol=1e-6)
    assert np.all(np.isfinite(rows)) and not rows[3].any()


def test_cosine_matrix_and_scores_agree_with_pairwise_cosine(rng):
    a, b = rng.normal(size=(4, 16)), rng.normal(size=(5, 16))
    matrix = cosine_matrix(a, b)
    assert matrix.shape == (4, 5)
    assert matrix[2, 3] == pytest.approx(cosine_similarity(a[2], b[3]), abs=1e-6)
    np.testing.assert_allclose(cosine_scores(a[1], b), matrix[1], atol=1e-6)
    assert cosine_scores(a[0], np.zeros((0, 16))).shape == (0,)


def test_calibration_maps_cosines_to_probabilities_that_rise_with_the_cosine():
    calibration = ScoreCalibration(slope=10.0, offset=-4.0)
    assert calibration(0.4) == pytest.approx(0.5)
    probabilities = calibration.probabilities(np.linspace(-1, 1, 50))
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(np.diff(probabilities) > 0)
    assert calibration.cosine_at(0.5) == pytest.approx(0.4)


def test_fitted_calibration_puts_even_odds_between_two_gaussian_classes(rng):
    target = rng.normal(0.5, 0.1, 5000)
    nontarget = rng.normal(0.3, 0.1, 50000)
    calibration = fit_calibration(target, nontarget)
    # Equal variances: the prior-0.5 log-likelihood ratio is zero halfway between the means.
    assert calibration.cosine_at(0.5) == pytest.approx(0.4, abs=0.01)
    # And its slope is the LLR slope (mu1 - mu0) / sigma^2 = 20.
    assert calibration.slope == pytest.approx(20.0, rel=0.05)


def test_calibration_stays_finite_when_the_classes_do_not_overlap():
    calibration = fit_calibration(np.array([0.8, 0.9]), np.array([0.1, 0.2]))
    assert np.isfinite(calibration.slope) and calibration.slope > 0
    assert calibration(0.9) > 0.9 and calibration(0.1) < 0.1


def test_calibration_fitting_needs_both_classes():
    with pytest.raises(InvalidParameterError):
        fit_calibration(np.array([]), np.array([0.1, 0.2]))
    with pytest.raises(InvalidParameterError):
        ScoreCalibration(1.0, 0.0).cosine_at(1.0)
