"""Similar voices: pairs of voiceprints far above how strangers score in the namespace."""

import numpy as np
import pytest

from voxprint.adaptation import Band
from voxprint.decision import OperatingPoint, SourceKind, ThresholdSource
from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import ConditionModel, ImpostorScores, LogisticModel, TargetScores
from voxprint.similar_voices import MAX_REPORTED, SIMILAR_VOICE_Z, similar_voices

TARGETS = TargetScores(ceiling=0.9, std_floor=0.05, std_short=0.1)


def point_with(mean: float, std: float, *, normalized: bool = False) -> OperatingPoint:
    model = ConditionModel(ImpostorScores(mean, std), TARGETS, shrink_seconds=1.0)
    return OperatingPoint(
        models={band: model for band in Band},
        source=ThresholdSource(SourceKind.PRIOR, "test"),
        normalized=normalized,
    )


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def rows_at_cosines(cosines: list[float]) -> np.ndarray:
    """Unit rows whose cosine with (1, 0) is each of ``cosines``."""
    return np.stack([unit(c, np.sqrt(1 - c * c)) for c in cosines])


def test_only_voiceprints_far_above_the_strangers_mean_are_similar_closest_first():
    point = point_with(mean=0.1, std=0.1)  # the bar: 0.1 + 4.5 * 0.1 = 0.55
    found = similar_voices(point, Band.WIDE, unit(1, 0), rows_at_cosines([0.3, 0.62, 0.49, 0.9]))
    assert [v.index for v in found] == [3, 1]
    assert found[0].cosine == pytest.approx(0.9, abs=1e-6)
    assert found[0].z == pytest.approx((0.9 - 0.1) / 0.1, abs=1e-4)
    assert all(v.z >= SIMILAR_VOICE_Z for v in found)


def test_the_bar_moves_with_the_namespaces_strangers():
    others = rows_at_cosines([0.6])
    assert similar_voices(point_with(0.07, 0.1), Band.WIDE, unit(1, 0), others)
    assert not similar_voices(point_with(0.3, 0.12), Band.WIDE, unit(1, 0), others)


def test_each_band_is_measured_on_its_own_impostor_model():
    wide = ConditionModel(ImpostorScores(0.1, 0.1), TARGETS, shrink_seconds=1.0)
    narrow = ConditionModel(ImpostorScores(0.4, 0.1), TARGETS, shrink_seconds=1.0)
    point = OperatingPoint(
        models={Band.WIDE: wide, Band.NARROW: narrow},
        source=ThresholdSource(SourceKind.ADAPTED, "test"),
    )
    others = rows_at_cosines([0.7])
    assert similar_voices(point, Band.WIDE, unit(1, 0), others)
    assert not similar_voices(point, Band.NARROW, unit(1, 0), others)
    # One band per pair: a telephone voice against an app one, and against a telephone one.
    pair = rows_at_cosines([0.7, 0.7])
    found = similar_voices(point, [Band.WIDE, Band.NARROW], unit(1, 0), pair)
    assert [v.index for v in found] == [0]
    with pytest.raises(InvalidParameterError, match="1 bands given for 2 voiceprints"):
        similar_voices(point, [Band.WIDE], unit(1, 0), pair)


def test_at_most_a_few_are_reported():
    found = similar_voices(point_with(0.0, 0.1), Band.WIDE, unit(1, 0), rows_at_cosines([0.95] * 9))
    assert len(found) == MAX_REPORTED


def test_nothing_is_reported_without_a_cosine_impostor_model_or_without_others():
    logistic = OperatingPoint(
        models={band: LogisticModel(10.0, -5.0) for band in Band},
        source=ThresholdSource(SourceKind.CALIBRATED, "user"),
    )
    close = rows_at_cosines([0.99])
    assert similar_voices(logistic, Band.WIDE, unit(1, 0), close) == ()
    normalized = point_with(0.0, 0.1, normalized=True)
    assert similar_voices(normalized, Band.WIDE, unit(1, 0), close) == ()
    assert similar_voices(point_with(0.0, 0.1), Band.WIDE, unit(1, 0), np.zeros((0, 2))) == ()


def test_a_bar_that_is_not_positive_is_refused():
    with pytest.raises(InvalidParameterError):
        similar_voices(point_with(0.0, 0.1), Band.WIDE, unit(1, 0), rows_at_cosines([0.5]), z=0)


def test_with_a_centred_point_voices_sharing_only_a_channel_are_not_similar(rng):
    """The impostor model of a centring point is of centred cosines: raw cosines of two
    strangers on one telephone line would stand far above it (found in review: 18-52 %
    of profiles warned about a different speaker)."""
    from dataclasses import replace

    dim = 32
    channel = rng.normal(size=dim)
    channel /= np.linalg.norm(channel)
    voices = rng.normal(size=(3, dim))
    voices /= np.linalg.norm(voices, axis=1, keepdims=True)
    recorded = voices + 1.5 * channel
    recorded /= np.linalg.norm(recorded, axis=1, keepdims=True)
    point = point_with(mean=0.0, std=0.1)
    assert similar_voices(point, Band.WIDE, recorded[0], recorded[1:])  # raw: all "similar"
    centred_point = replace(point, centre=(0.9 * channel).astype(np.float32))
    assert similar_voices(centred_point, Band.WIDE, recorded[0], recorded[1:]) == ()
    again = recorded[0] + 0.05 * rng.normal(size=dim)  # the same voice enrolled twice
    (twin,) = similar_voices(centred_point, Band.WIDE, recorded[0], again[None, :])
    assert twin.index == 0 and twin.z >= SIMILAR_VOICE_Z


def test_with_a_centre_per_band_each_voiceprint_is_measured_around_its_own_bands(rng):
    """A namespace mixing app and telephone enrolments measures its strangers around
    each band's centre: two telephone-enrolled strangers on one line, measured around the
    shipped centre instead, would stand far above that model (found in review: 6 pairs
    of different speakers warned among 167 profiles of bench/cross_band.py's namespace,
    none around each band's centre). A voice enrolled twice is still found."""
    from dataclasses import replace

    dim = 32
    line = rng.normal(size=dim)
    line /= np.linalg.norm(line)
    voices = rng.normal(size=(3, dim))
    voices /= np.linalg.norm(voices, axis=1, keepdims=True)
    recorded = voices + 1.5 * line
    recorded /= np.linalg.norm(recorded, axis=1, keepdims=True)
    shipped = np.zeros(dim, dtype=np.float32)
    point = replace(
        point_with(mean=0.0, std=0.1),
        centre=shipped,
        ceiling_centre=shipped,
        band_centres={Band.NARROW: (0.9 * line).astype(np.float32), Band.WIDE: shipped},
    )
    phone = [Band.NARROW, Band.NARROW]
    on_shipped = similar_voices(point, Band.NARROW, recorded[0], recorded[1:])
    assert len(on_shipped) == 2  # sides not known: the one centre, the line stays
    per_side = similar_voices(
        point, Band.NARROW, recorded[0], recorded[1:], side=Band.NARROW, sides=phone
    )
    assert per_side == ()
    again = recorded[0] + 0.05 * rng.normal(size=dim)
    (twin,) = similar_voices(
        point, Band.NARROW, recorded[0], again[None, :], side=Band.NARROW, sides=phone[:1]
    )
    assert twin.index == 0 and twin.z >= SIMILAR_VOICE_Z
    with pytest.raises(InvalidParameterError):
        similar_voices(point, Band.NARROW, recorded[0], recorded[1:], sides=phone[:1])
