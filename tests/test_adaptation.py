"""Adapting the impostor model to a namespace's own enrolled profiles, within bounds."""

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from voxprint.adaptation import (
    Band,
    GalleryStatistics,
    ImpostorPrior,
    ProfileClips,
    adapt_impostors,
    band_of,
    clip_scores,
    clips_band,
    enrolment_band,
    gallery_statistics,
    mixes_bands,
    narrow_share,
    pair_band,
)
from voxprint.errors import InvalidParameterError
from voxprint.scoring.centring import centred, namespace_centre
from voxprint.scoring.similarity import l2_normalise

PRIOR = ImpostorPrior(
    mean=0.1, domain_std=0.05, std=0.1, pair_std=0.1, mean_floor=0.07, std_floor=0.09
)
NOW = datetime(2026, 12, 4, tzinfo=UTC)


def speakers(rng, count: int, shared: float, clips: int = 3, dim: int = 64) -> list[ProfileClips]:
    """Profiles whose voices share a common component of weight ``shared`` (the channel):
    the larger it is, the higher strangers score against each other."""
    channel = l2_normalise(rng.normal(size=dim))
    profiles = []
    for _ in range(count):
        voice = l2_normalise(rng.normal(size=dim))
        noise = l2_normalise(rng.normal(size=(clips, dim)))
        embeddings = l2_normalise(shared * channel + voice + 0.3 * noise)
        profiles.append(
            ProfileClips(l2_normalise(embeddings.mean(0)), embeddings, np.full(clips, 10.0))
        )
    return profiles


def stats(profiles):
    return gallery_statistics(profiles, shrink_seconds=0.84, updated_at=NOW)


def test_fewer_than_two_profiles_adapt_nothing_and_the_prior_stands(rng):
    assert stats([]) is None
    single = stats(speakers(rng, 1, 0.0))
    assert single is not None and (single.profiles, single.pairs) == (1, 0)
    assert single.clips == 3  # its band is still known, for the score model's choice
    assert adapt_impostors(PRIOR, single) == PRIOR.unadapted()
    prior_only = adapt_impostors(PRIOR, None)
    assert prior_only.mean == PRIOR.mean
    assert prior_only.std == pytest.approx(np.hypot(PRIOR.std, PRIOR.domain_std))


def test_statistics_see_strangers_score_higher_on_a_shared_channel(rng):
    clean = stats(speakers(rng, 20, 0.0))
    telephone = stats(speakers(rng, 20, 0.8))
    assert clean.profiles == 20 and clean.pairs == 190 and clean.clips == 60
    assert telephone.pair_mean > clean.pair_mean + 0.2


def test_centred_statistics_keep_the_profiles_mean_and_see_a_shared_channel_removed(rng):
    telephone = speakers(rng, 30, 0.8)
    raw = stats(telephone)
    centred = gallery_statistics(
        telephone, shrink_seconds=0.84, updated_at=NOW, shipped_centre=np.zeros(64)
    )
    assert raw.centre is None and centred.centre is not None
    mean = np.mean([p.voiceprint for p in telephone], axis=0)
    np.testing.assert_allclose(centred.centre, mean, rtol=1e-5, atol=1e-6)
    assert raw.pair_mean > 0.3 and centred.pair_mean < raw.pair_mean - 0.2


def test_each_profile_is_measured_against_a_centre_without_its_own_voice(rng):
    """As a stranger is measured: in no namespace's centre. With each voice in the centre
    its pairs score lower than strangers do, the more so the fewer the profiles."""
    few = speakers(rng, 3, 0.0)
    voiceprints = np.stack([p.voiceprint for p in few])
    shipped = np.zeros(64)
    everyone = namespace_centre(shipped, voiceprints.mean(axis=0), 3)

    def pair_mean(scores):
        return np.mean([s[:, np.arange(3) != a].mean() for a, s in enumerate(scores)])

    with_own = [centred(p.embeddings, everyone) @ centred(voiceprints, everyone).T for p in few]
    left_out = clip_scores(few, shipped)
    assert [s.shape for s in left_out] == [(3, 3)] * 3
    assert pair_mean(with_own) < pair_mean(left_out) - 0.005
    uncentred = clip_scores(few)
    np.testing.assert_allclose(uncentred[0], few[0].embeddings @ voiceprints.T, rtol=1e-6)


def test_a_namespace_mixing_bands_measures_each_bands_pairs_around_its_own_centre(rng):
    shipped = np.zeros(64)
    phone, app = in_band(speakers(rng, 6, 1.0), 3400.0), in_band(speakers(rng, 5, 0.2), 7600.0)
    mixed = gallery_statistics(
        [*phone, *app], shrink_seconds=0.84, updated_at=NOW, shipped_centre=shipped
    )
    assert mixes_bands(mixed) and mixed.band is Band.NARROW
    # The telephone band's pairs are measured around the telephone profiles' own mean
    # (the line they share is taken out), not around the shipped centre
    raw = gallery_statistics([*phone, *app], shrink_seconds=0.84, updated_at=NOW)
    assert mixed.pair_mean < raw.pair_mean - 0.05
    # ... and the app band's exactly as a namespace of the app profiles alone would
    alone = gallery_statistics(app, shrink_seconds=0.84, updated_at=NOW, shipped_centre=shipped)
    assert mixed.other_pair_mean == pytest.approx(alone.pair_mean, abs=1e-9)
    assert mixed.band_centre(Band.NARROW).profiles == 6
    np.testing.assert_allclose(
        mixed.band_centre(Band.NARROW).mean,
        np.mean([p.voiceprint for p in phone], axis=0),
        atol=1e-6,
    )
    assert not mixes_bands(stats(speakers(rng, 5, 0.0))) and not mixes_bands(None)


def test_a_profile_of_mixed_clips_is_in_neither_bands_centre(rng):
    shipped = np.zeros(64)
    phone, app = in_band(speakers(rng, 3, 0.8), 3400.0), in_band(speakers(rng, 3, 0.2), 7600.0)
    both = speakers(rng, 1, 0.5)[0]
    both = replace(both, bandwidths=(3400.0, 7600.0, 7600.0))
    measured = gallery_statistics(
        [*phone, *app, both], shrink_seconds=0.84, updated_at=NOW, shipped_centre=shipped
    )
    assert measured.profiles == 7
    assert [(c.band, c.profiles) for c in measured.band_centres] == [
        (Band.WIDE, 3),
        (Band.NARROW, 3),
    ]


def test_many_profiles_move_the_model_to_the_namespace_and_few_move_it_less(rng):
    high = speakers(rng, 30, 0.8)
    many = adapt_impostors(PRIOR, stats(high))
    few = adapt_impostors(PRIOR, stats(high[:2]))
    measured = stats(high).pair_mean
    assert many.mean == pytest.approx(measured, abs=0.02)
    assert PRIOR.mean < few.mean < many.mean


def test_a_small_gallery_decides_with_more_caution_than_a_large_one():
    def measured(pairs: int) -> GalleryStatistics:
        return GalleryStatistics(
            Band.WIDE, 0, 0, pairs, pair_mean=0.3, trial_std=0.1, updated_at=NOW
        )

    few, many = adapt_impostors(PRIOR, measured(1)), adapt_impostors(PRIOR, measured(1000))
    assert few.std > many.std  # what is not yet known about the namespace widens the model
    assert few.mean < many.mean


def test_crafted_profiles_cannot_push_the_model_below_its_floors(rng):
    # Voices chosen far apart (random directions, no shared channel, no within-speaker
    # noise) read as strangers who never look alike: the most lenient possible namespace.
    dim = 192
    apart = [
        ProfileClips(v, v[None, :], np.array([10.0]))
        for v in l2_normalise(rng.normal(size=(200, dim)))
    ]
    fitted = adapt_impostors(PRIOR, stats(apart))
    assert fitted.mean == PRIOR.mean_floor
    assert fitted.std >= PRIOR.std_floor


def test_one_voice_under_many_names_makes_decisions_stricter_not_looser(rng):
    clones = speakers(rng, 1, 0.0) * 10
    fitted = adapt_impostors(PRIOR, stats(clones))
    assert fitted.mean > PRIOR.mean


def test_bands_are_read_from_the_measured_bandwidth():
    assert band_of(3900.0) is Band.NARROW
    assert band_of(7750.0) is Band.WIDE
    assert band_of(None) is Band.WIDE and band_of(float("nan")) is Band.WIDE
    assert clips_band([4000.0, 4000.0, 8000.0]) is Band.NARROW
    assert clips_band([4000.0, 8000.0]) is Band.NARROW  # one telephone clip is enough
    assert clips_band([8000.0, 7600.0]) is Band.WIDE
    assert clips_band([]) is None and clips_band([8000.0, None]) is None


def test_the_narrowband_share_is_not_known_while_any_clip_was_never_measured():
    assert narrow_share([7600.0, 3800.0, 7600.0, 7600.0]) == 0.25
    assert narrow_share([7600.0, 7600.0]) == 0.0
    assert narrow_share([7600.0, None]) is None  # an old clip, or a ready-made embedding
    assert narrow_share([7600.0, float("nan")]) is None
    assert narrow_share([]) is None


def test_voiceprints_count_as_wideband_only_when_every_clip_was_measured_wideband():
    assert enrolment_band(0.0) is Band.WIDE
    assert enrolment_band(0.25) is Band.NARROW
    assert enrolment_band(None) is None
    # What the rule means for a telephone probe: the narrowband model unless the
    # voiceprints are surely wideband.
    assert pair_band(Band.NARROW, enrolment_band(0.0)) is Band.WIDE
    assert pair_band(Band.NARROW, enrolment_band(0.25)) is Band.NARROW
    assert pair_band(Band.NARROW, enrolment_band(None)) is Band.NARROW
    assert pair_band(Band.WIDE, enrolment_band(1.0)) is Band.WIDE


def test_a_prior_with_floors_above_itself_is_refused():
    with pytest.raises(InvalidParameterError):
        ImpostorPrior(0.1, 0.05, 0.1, 0.1, mean_floor=0.2, std_floor=0.05)
    with pytest.raises(InvalidParameterError):
        ImpostorPrior(0.1, 0.0, 0.1, 0.1, mean_floor=0.05, std_floor=0.05)


def in_band(profiles, hz):
    from dataclasses import replace

    return [replace(p, bandwidths=(hz,) * len(p.seconds)) for p in profiles]


def test_each_bands_statistics_come_from_its_own_pairs_only(rng):
    """Telephone strangers score high against each other; app strangers, and an app
    voice against a telephone one, low. Pairs across bands belong to neither."""
    phone = in_band(speakers(rng, 5, shared=1.0), 3400.0)
    app = in_band(speakers(rng, 3, shared=0.0), 7600.0)
    mixed = stats([*phone, *app])
    alone = stats(phone)
    assert mixed.band is Band.NARROW and mixed.pairs == 10  # not the 15 cross-band pairs
    assert mixed.pair_mean == pytest.approx(alone.pair_mean)
    assert mixed.trial_std == pytest.approx(alone.trial_std)
    assert mixed.narrow_share == pytest.approx(5 / 8)
    apps = stats(app)
    assert mixed.other_pairs == 3 and mixed.other_pair_mean == pytest.approx(apps.pair_mean)
    assert alone.other_pairs == 0  # no wideband pair: nothing to adapt there
    wide = mixed.of_other_band()
    assert (wide.band, wide.pairs, wide.other_pairs) == (Band.WIDE, 3, 10)


def test_profiles_whose_clips_mix_bands_belong_to_no_bands_pairs(rng):
    from dataclasses import replace

    phone = in_band(speakers(rng, 3, shared=1.0), 3400.0)
    mixed_clips = [replace(p, bandwidths=(3400.0, 7600.0, 7600.0)) for p in speakers(rng, 4, 0.0)]
    statistics = stats([*phone, *mixed_clips])
    assert (statistics.band, statistics.pairs, statistics.other_pairs) == (Band.NARROW, 3, 0)
    assert statistics.pair_mean == pytest.approx(stats(phone).pair_mean)


def test_a_profile_whose_clips_do_not_all_have_a_bandwidth_is_refused(rng):
    from dataclasses import replace

    profile = speakers(rng, 1, shared=0.0)[0]  # three clips
    with pytest.raises(InvalidParameterError, match="3 clips"):
        replace(profile, bandwidths=(3400.0,))


def test_profiles_with_unmeasured_clips_count_as_wideband_pairs_and_an_unknown_share(rng):
    profiles = speakers(rng, 3, shared=0.3)
    statistics = stats(profiles)
    assert statistics.band is Band.WIDE and statistics.pairs == 3
    assert statistics.narrow_share is None
