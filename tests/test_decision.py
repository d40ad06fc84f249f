"""Decisions: the verification threshold, the open-set posterior, and "too little speech"."""

import numpy as np
import pytest

from voxprint.adaptation import Band
from voxprint.decision import (
    Decision,
    DecisionReason,
    OperatingPoint,
    SourceKind,
    ThresholdSource,
    open_set_posteriors,
)
from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import LogisticModel

MODEL = LogisticModel(10.0, -5.0)
SOURCE = ThresholdSource(SourceKind.PRIOR, "test")


def point(**overrides) -> OperatingPoint:
    values = {"models": {band: MODEL for band in Band}, "source": SOURCE, **overrides}
    return OperatingPoint(**values)


def test_verification_accepts_from_the_threshold_up_and_rejects_below():
    p = point(verification_threshold=0.9)
    assert p.verify(0.9, 3.0) == (Decision.ACCEPT, DecisionReason.MATCH)
    assert p.verify(0.95, 3.0) == (Decision.ACCEPT, DecisionReason.MATCH)
    assert p.verify(0.89, 3.0) == (Decision.REJECT, DecisionReason.NO_MATCH)


def test_too_little_speech_is_a_rejection_with_its_reason_whatever_the_score():
    p = point(min_speech_seconds=0.5)
    assert p.verify(0.999, 0.4) == (Decision.REJECT, DecisionReason.INSUFFICIENT_SPEECH)
    assert p.identify(0.999, 0.4) is DecisionReason.INSUFFICIENT_SPEECH
    assert p.identify(0.999, 0.5) is DecisionReason.MATCH
    assert p.identify(0.5, 3.0) is DecisionReason.NO_MATCH


def test_nobody_named_under_the_speech_an_owner_needs_is_too_little_speech_not_unknown():
    p = point(identification_threshold=0.7)
    assert p.identify(0.4, 0.6, speech_needed=1.2) is DecisionReason.INSUFFICIENT_SPEECH
    assert p.identify(0.4, 1.5, speech_needed=1.2) is DecisionReason.NO_MATCH
    assert p.identify(0.4, 0.6, speech_needed=None) is DecisionReason.NO_MATCH
    # A name that is reached stands, however short the speech looked on paper.
    assert p.identify(0.9, 0.6, speech_needed=1.2) is DecisionReason.MATCH


def test_open_set_posteriors_and_the_unknown_share_sum_to_one():
    posteriors, unknown = open_set_posteriors(np.array([5.0, 0.0, -3.0]))
    assert posteriors.sum() + unknown == pytest.approx(1.0)
    assert posteriors[0] > posteriors[1] > posteriors[2]
    assert open_set_posteriors(np.zeros(0)) == (pytest.approx(np.zeros(0)), 1.0)


def test_a_larger_gallery_asks_for_more_evidence_to_name_someone():
    small, _ = open_set_posteriors(np.array([4.0, -10.0]))
    large, _ = open_set_posteriors(np.array([4.0] + [-10.0] * 999))
    assert small[0] > 0.9
    assert large[0] < 0.1  # the same evidence among 1000 profiles is not enough


def test_equal_evidence_for_two_profiles_names_neither_with_confidence():
    posteriors, _ = open_set_posteriors(np.array([20.0, 20.0]))
    assert posteriors == pytest.approx([0.5, 0.5], abs=1e-6)


def test_an_operating_point_refuses_thresholds_outside_zero_and_one():
    with pytest.raises(InvalidParameterError):
        point(verification_threshold=1.0)
    with pytest.raises(InvalidParameterError):
        point(identification_threshold=0.0)
    with pytest.raises(InvalidParameterError):
        point(min_speech_seconds=-1.0)


def test_an_operating_point_needs_a_model_for_every_band():
    with pytest.raises(InvalidParameterError, match="every band"):
        OperatingPoint(models={Band.WIDE: MODEL}, source=SOURCE)


@pytest.mark.parametrize(
    ("probe_hz", "gallery", "band"),
    [
        (3800.0, Band.NARROW, Band.NARROW),  # telephone against telephone
        (3800.0, Band.WIDE, Band.WIDE),  # telephone against voiceprints from wideband
        (7600.0, Band.NARROW, Band.WIDE),  # wideband against telephone voiceprints
        (7600.0, Band.WIDE, Band.WIDE),
        (3800.0, None, Band.NARROW),  # gallery band not known: the probe's decides
        (None, None, Band.WIDE),
    ],
)
def test_the_narrowband_model_judges_only_narrowband_probes_against_narrowband_galleries(
    probe_hz, gallery, band
):
    assert point(gallery_band=gallery).band_for(probe_hz) is band


def test_profiles_own_bands_matter_only_for_a_narrowband_probe_under_models_that_differ():
    banded = point(models={Band.WIDE: MODEL, Band.NARROW: LogisticModel(10.0, -8.0)})
    assert banded.profile_bands_matter(3400.0)
    assert not banded.profile_bands_matter(7600.0)
    assert not banded.profile_bands_matter(None)  # unmeasured audio counts as wideband
    assert not point().profile_bands_matter(3400.0)  # one fitted model for both bands


def test_a_gallery_counts_as_wideband_only_when_none_of_its_clips_is_narrowband():
    from datetime import UTC, datetime

    from voxprint.operating_points import gallery_band
    from voxprint.store.records import GalleryStatistics

    def stats(share):
        return GalleryStatistics(
            Band.WIDE, 3, 9, 3, 0.1, 0.1, datetime.now(UTC), narrow_share=share
        )

    assert gallery_band(None) is None
    assert gallery_band(stats(None)) is None  # stored before the share was recorded
    assert gallery_band(stats(0.0)) is Band.WIDE
    assert gallery_band(stats(0.2)) is Band.NARROW  # telephone-enrolled profiles among them


def test_a_voice_that_does_not_stand_out_is_a_look_alike_nobody_named():
    p = point(verification_threshold=0.9, identification_threshold=0.7, standout_margin=0.15)
    assert p.identify(0.99, 3.0, standout=0.1) is DecisionReason.LOOK_ALIKE
    assert p.identify(0.99, 3.0, standout=0.15) is DecisionReason.MATCH
    assert p.identify(0.99, 3.0, standout=None) is DecisionReason.MATCH  # too few others
    assert p.identify(0.5, 3.0, standout=0.1) is DecisionReason.NO_MATCH  # unknown anyway


def test_a_voice_that_does_not_stand_out_from_its_profiles_neighbours_is_a_look_alike():
    p = point(identification_threshold=0.7, standout_margin=0.15, neighbour_margin=0.1)
    assert p.identify(0.99, 3.0, standout=0.2, neighbours=0.05) is DecisionReason.LOOK_ALIKE
    assert p.identify(0.99, 3.0, standout=0.2, neighbours=0.1) is DecisionReason.MATCH
    assert p.identify(0.99, 3.0, standout=0.2, neighbours=None) is DecisionReason.MATCH
    assert p.identify(0.99, 3.0, standout=0.1, neighbours=0.5) is DecisionReason.LOOK_ALIKE
    unguarded = point(identification_threshold=0.7, standout_margin=0.15)
    assert unguarded.identify(0.99, 3.0, standout=0.2, neighbours=-1.0) is DecisionReason.MATCH


def test_without_a_standout_margin_no_standout_refuses_anything():
    assert point().identify(0.99, 3.0, standout=-1.0) is DecisionReason.MATCH


def test_an_operating_point_refuses_a_standout_guard_that_cannot_be_measured():
    with pytest.raises(InvalidParameterError):
        point(standout_margin=float("nan"))
    with pytest.raises(InvalidParameterError):
        point(standout_others=0)
    with pytest.raises(InvalidParameterError):
        point(neighbour_margin=float("inf"))
