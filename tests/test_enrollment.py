"""Enrolment rules: the voiceprint is the normalised mean, status flips at the minimum."""

from datetime import UTC, datetime

import numpy as np
import pytest

from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import InvalidParameterError
from voxprint.store.records import Clip, EnrollmentStatus


def clip(vector, seconds):
    return Clip(
        id=str(seconds),
        profile_id="p",
        embedding=np.asarray(vector, dtype=np.float32),
        audio_seconds=seconds * 1.2,
        net_speech_seconds=seconds,
        created_at=datetime.now(UTC),
    )


def test_no_clips_means_no_voiceprint_and_still_enrolling():
    state = EnrollmentPolicy().summarize([])
    assert state.voiceprint is None and state.status is EnrollmentStatus.ENROLLING
    assert state.net_speech_seconds == 0.0


def test_the_voiceprint_is_the_l2_normalised_mean_of_clip_embeddings():
    state = EnrollmentPolicy(20).summarize([clip([1, 0], 5), clip([0, 1], 5)])
    np.testing.assert_allclose(state.voiceprint, [2**-0.5, 2**-0.5], atol=1e-6)
    assert state.voiceprint.dtype == np.float32


def test_status_becomes_enrolled_once_net_speech_reaches_the_minimum():
    policy = EnrollmentPolicy(min_net_speech_seconds=20)
    assert policy.summarize([clip([1, 0], 19.9)]).status is EnrollmentStatus.ENROLLING
    state = policy.summarize([clip([1, 0], 12), clip([1, 0], 8)])
    assert state.status is EnrollmentStatus.ENROLLED
    assert state.net_speech_seconds == pytest.approx(20)
    assert state.audio_seconds == pytest.approx(24)


def test_remaining_speech_never_goes_negative():
    policy = EnrollmentPolicy(20)
    assert policy.remaining_seconds(5) == 15
    assert policy.remaining_seconds(25) == 0


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan"), 1e308, 3600.5])
def test_a_negative_endless_or_unreachable_minimum_is_refused(seconds):
    with pytest.raises(InvalidParameterError, match="between 0 and 3600"):
        EnrollmentPolicy(seconds)
    assert EnrollmentPolicy(3600).min_net_speech_seconds == 3600


def profile_with(**fields):
    from voxprint.store.records import Profile

    now = datetime.now(UTC)
    return Profile(
        id="p",
        namespace="default",
        name="zz",
        encoder_name="e",
        encoder_version="1",
        created_at=now,
        updated_at=now,
        **fields,
    )


def test_a_profile_enrolled_under_a_lower_requirement_needs_no_more_speech():
    from voxprint.store.records import EnrollmentStatus

    profile = profile_with(status=EnrollmentStatus.ENROLLED, net_speech_seconds=3.0)
    policy = EnrollmentPolicy(20)
    assert policy.remaining_for(profile) == 0.0
    assert policy.remaining_seconds(profile.net_speech_seconds) == 17.0


def test_what_a_profile_still_needs_reads_in_seconds_rounded_up():
    profile = profile_with(net_speech_seconds=1.88)
    assert EnrollmentPolicy(20).still_needed(profile) == (
        "18.2 s more net speech is needed (of the 20 s required)"
    )


def test_a_profile_whose_clips_meet_a_lowered_requirement_is_told_how_it_becomes_enrolled():
    profile = profile_with(net_speech_seconds=9.5, clip_count=1)
    policy = EnrollmentPolicy(5)
    assert policy.met_by(profile) and not EnrollmentPolicy(10).met_by(profile)
    assert policy.still_needed(profile).startswith("its clips hold the 5 s required now")
    assert not policy.met_by(profile_with(net_speech_seconds=0.0, clip_count=0))


def test_an_enrolled_profile_stays_enrolled_when_clips_are_added_under_a_higher_requirement():
    policy = EnrollmentPolicy(min_net_speech_seconds=20)
    clips = [clip([1, 0], 6), clip([0, 1], 3)]
    assert policy.summarize(clips).status is EnrollmentStatus.ENROLLING
    kept = policy.summarize(clips, EnrollmentStatus.ENROLLED)
    assert kept.status is EnrollmentStatus.ENROLLED
    assert kept.net_speech_seconds == pytest.approx(9)
    reset = policy.summarize([], EnrollmentStatus.ENROLLED)  # a reset starts over
    assert reset.status is EnrollmentStatus.ENROLLING and reset.voiceprint is None
