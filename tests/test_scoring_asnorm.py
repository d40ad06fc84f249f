"""AS-Norm: adaptive symmetric score normalisation against an impostor cohort."""

import numpy as np
import pytest

from voxprint.errors import EmptyCohortError, InvalidParameterError
from voxprint.scoring import AsNorm, as_norm, cosine_matrix
from voxprint.scoring.asnorm import cohort_statistics


def test_as_norm_matches_a_hand_computed_answer_on_a_tiny_example():
    raw = np.array([[0.8]])
    enrol_cohort = np.array([[0.1, 0.3, 0.5, -0.9]])  # top-3: 0.5, 0.3, 0.1 -> mean 0.3
    test_cohort = np.array([[0.2, 0.4, 0.0, 0.6]])  # top-3: 0.6, 0.4, 0.2 -> mean 0.4
    std_e = np.std([0.5, 0.3, 0.1])
    std_t = np.std([0.6, 0.4, 0.2])
    expected = 0.5 * ((0.8 - 0.3) / std_e + (0.8 - 0.4) / std_t)
    result = as_norm(raw, enrol_cohort, test_cohort, top_k=3)
    assert result.shape == (1, 1) and result.dtype == np.float64
    assert result[0, 0] == pytest.approx(expected)


def test_top_k_larger_than_the_cohort_uses_the_whole_cohort():
    cohort_scores = np.array([[0.1, 0.2, 0.6], [0.0, -0.4, 0.3]])
    mean_clipped, std_clipped = cohort_statistics(cohort_scores, top_k=200)
    np.testing.assert_allclose(mean_clipped, cohort_scores.mean(axis=1))
    np.testing.assert_allclose(std_clipped, cohort_scores.std(axis=1))
    mean_top1, _ = cohort_statistics(cohort_scores, top_k=1)
    np.testing.assert_allclose(mean_top1, [0.6, 0.3])


def test_an_empty_cohort_is_refused_with_a_typed_error(rng):
    with pytest.raises(EmptyCohortError) as raised:
        as_norm(np.zeros((2, 3)), np.zeros((2, 0)), np.zeros((3, 0)))
    assert raised.value.code == "empty_cohort"
    with pytest.raises(EmptyCohortError):
        AsNorm(cohort=np.zeros((0, 192), dtype=np.float32))


def test_mismatched_shapes_and_bad_top_k_are_refused(rng):
    with pytest.raises(InvalidParameterError):
        as_norm(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros((3, 5)))
    with pytest.raises(InvalidParameterError):
        as_norm(np.zeros((2, 3)), np.zeros((2, 5)), np.zeros((3, 4)))
    with pytest.raises(InvalidParameterError):
        AsNorm(cohort=rng.normal(size=(5, 8)).astype(np.float32), top_k=0)
    norm = AsNorm(cohort=rng.normal(size=(5, 8)).astype(np.float32))
    with pytest.raises(InvalidParameterError):
        norm.normalize(np.ones((1, 4)), np.ones((1, 8)), np.zeros((1, 1)))


def test_the_dataclass_agrees_with_the_function_on_cosine_scores(rng):
    cohort = rng.normal(size=(50, 16)).astype(np.float32)
    enrol = rng.normal(size=(3, 16)).astype(np.float32)
    test = rng.normal(size=(4, 16)).astype(np.float32)
    raw = cosine_matrix(enrol, test)
    norm = AsNorm(cohort=cohort, top_k=10)
    expected = as_norm(raw, cosine_matrix(enrol, cohort), cosine_matrix(test, cohort), top_k=10)
    np.testing.assert_allclose(norm.normalize(enrol, test, raw), expected, rtol=1e-5, atol=1e-5)
    stats_e, stats_t = norm.statistics(enrol), norm.statistics(test)
    np.testing.assert_allclose(norm.normalize_with(stats_e, stats_t, raw), expected, atol=1e-5)


def test_as_norm_removes_a_per_speaker_score_offset_that_breaks_a_single_threshold(rng):
    # Two enrolled "speakers" whose raw scores live on different scales: one
    # scores high against everyone (a hub), one low. Raw cosine cannot separate
    # targets from non-targets with one threshold; AS-Norm can.
    dim = 32
    hub_direction = rng.normal(size=dim)
    cohort = rng.normal(size=(300, dim)) + 2.0 * hub_direction
    hub = 3.0 * hub_direction + rng.normal(size=dim)
    loner = rng.normal(size=dim)
    enrol = np.vstack([hub, loner]).astype(np.float32)
    tests = np.vstack(
        [
            hub + 0.6 * rng.normal(size=dim),  # target for the hub
            rng.normal(size=dim) + 2.0 * hub_direction,  # impostor near the hub
            loner + 0.9 * rng.normal(size=dim),  # target for the loner
            rng.normal(size=dim),  # impostor for the loner
        ]
    ).astype(np.float32)
    raw = cosine_matrix(enrol, tests).astype(np.float64)
    targets = np.array([raw[0, 0], raw[1, 2]])
    impostors = np.array([raw[0, 1], raw[1, 3]])
    assert targets.min() < impostors.max()  # one raw threshold fails
    normed = AsNorm(cohort=cohort.astype(np.float32), top_k=50).normalize(enrol, tests, raw)
    assert min(normed[0, 0], normed[1, 2]) > max(normed[0, 1], normed[1, 3])


def test_the_cohort_is_stored_read_only_and_the_object_is_frozen(rng):
    norm = AsNorm(cohort=rng.normal(size=(4, 8)).astype(np.float32), top_k=2)
    with pytest.raises(AttributeError):
        norm.top_k = 3  # type: ignore[misc]
    assert norm.dim == 8
    assert norm.cohort_scores(rng.normal(size=(2, 8))).shape == (2, 4)
