"""Built-in priors and the operating points adapted from a namespace's statistics."""

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from voxprint.adaptation import Band, ProfileClips
from voxprint.operating_points import DEFAULT_PRIORS, UNCENTRED_PRIORS
from voxprint.scoring.llr import logit
from voxprint.scoring.similarity import l2_normalise

PRIOR = DEFAULT_PRIORS["campplus"]
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def voices(rng, count: int, *, shared: float, hz: float | None, dim: int = 192):
    """``count`` profiles of 3 clips whose strangers score higher the larger ``shared``
    (a channel they have in common); clips measured at ``hz`` (``None``: never)."""
    channel = l2_normalise(rng.normal(size=dim))
    profiles = []
    for _ in range(count):
        voice = l2_normalise(rng.normal(size=dim))
        clips = l2_normalise(
            shared * channel + voice + 0.3 * l2_normalise(rng.normal(size=(3, dim)))
        )
        bandwidths = () if hz is None else (hz,) * 3
        profiles.append(
            ProfileClips(l2_normalise(clips.mean(0)), clips, np.full(3, 10.0), bandwidths)
        )
    return profiles


def bar(profiles, band: Band) -> float:
    """The cosine a 5 s probe needs to be accepted against a 20 s voiceprint."""
    point = PRIOR.operating_point(PRIOR.statistics(profiles, updated_at=NOW))
    return point.model(band).cosine_for_llr(logit(0.9), 5.0, 20.0)


@pytest.mark.parametrize("hz", [7600.0, None])
def test_profiles_of_the_other_band_never_lower_a_telephone_namespaces_bar(rng, hz):
    """Telephone strangers scoring about 0.6 (real calls do): app profiles, or profiles
    whose band was never measured, enrolled in any number, must not make the namespace
    judge its telephone claims as if its own telephone pairs were not there (found in
    review: 9 app profiles per 20 telephone ones let 8 % of telephone strangers in, when
    the statistics came from the band with more pairs alone)."""
    phone = voices(rng, 20, shared=1.2, hz=3400.0)
    alone = bar(phone, Band.NARROW)
    assert alone > PRIOR.operating_point().model(Band.NARROW).cosine_for_llr(logit(0.9), 5.0, 20.0)
    for count in (5, 9, 20, 60):
        others = voices(rng, count, shared=0.0, hz=hz)
        assert bar([*phone, *others], Band.NARROW) >= alone - 0.01


def test_a_mixed_namespace_whose_bands_both_look_like_the_prior_keeps_both_models_near_it(rng):
    """App strangers at the wideband prior's level, telephone strangers at the
    narrowband one's, and app against telephone voices low: neither model is moved or
    widened by blending the populations. On cosines as they are (the uncentred prior):
    centring would move both bands' strangers by what the namespace's mean holds of
    their channels, which is not what this checks."""
    prior = UNCENTRED_PRIORS["campplus"]
    phone = voices(rng, 30, shared=0.82, hz=3400.0)
    app = voices(rng, 30, shared=0.36, hz=7600.0)
    point = prior.operating_point(prior.statistics([*phone, *app], updated_at=NOW))
    for band in Band:
        model = point.model(band).impostors
        assert model.mean == pytest.approx(prior.impostors[band].mean, abs=0.05)
        assert model.std < 1.3 * prior.impostors[band].std


def test_telephone_profiles_never_lower_an_app_namespaces_bar(rng):
    """The mirror case: app strangers scoring high (a shared room or device), then
    telephone profiles, whose pairs with app voices score low, enrolled beside them."""
    app = voices(rng, 20, shared=0.9, hz=7600.0)
    alone = bar(app, Band.WIDE)
    for count in (5, 20, 60):
        phone = voices(rng, count, shared=0.0, hz=3400.0)
        assert bar([*app, *phone], Band.WIDE) >= alone - 0.01


def test_a_band_without_pairs_of_its_own_keeps_at_least_its_priors_spread(rng):
    """A lone telephone profile beside app profiles: the namespace shows nothing of its
    telephone strangers, so telephone claims on it do not get the app pairs' tighter
    spread (found in review), and its mean stays above the narrowband floor."""
    lone = voices(rng, 1, shared=0.0, hz=3400.0)
    narrow = PRIOR.impostors[Band.NARROW]
    for count in (2, 9, 199):
        app = voices(rng, count, shared=0.36, hz=7600.0)
        point = PRIOR.operating_point(PRIOR.statistics([*lone, *app], updated_at=NOW))
        model = point.model(Band.NARROW).impostors
        assert point.model(Band.WIDE).impostors.std < narrow.unadapted().std - 0.01
        assert model.std >= narrow.unadapted().std
        assert model.mean >= narrow.mean_floor


def test_one_profile_gives_statistics_of_its_own_band_with_nothing_to_adapt(rng):
    lone = PRIOR.statistics(voices(rng, 1, shared=0.0, hz=3400.0), updated_at=NOW)
    assert lone is not None and lone.band is Band.NARROW and lone.pairs == 0
    assert PRIOR.statistics([], updated_at=NOW) is None
    wide = PRIOR.statistics(voices(rng, 1, shared=0.0, hz=None), updated_at=NOW)
    assert wide.band is Band.WIDE


def test_crafted_profiles_far_apart_cannot_take_a_band_below_its_floor(rng):
    dim = 192
    apart = [
        ProfileClips(v, v[None, :], np.array([10.0]), (3400.0,))
        for v in l2_normalise(rng.normal(size=(100, dim)))
    ]
    point = PRIOR.operating_point(PRIOR.statistics(apart, updated_at=NOW))
    for band in Band:
        assert point.model(band).impostors.mean >= PRIOR.impostors[band].mean_floor
        assert point.model(band).impostors.std >= PRIOR.impostors[band].std_floor - 1e-9


def test_the_source_of_an_adapted_point_counts_each_bands_pairs(rng):
    phone = voices(rng, 3, shared=0.8, hz=3400.0)
    app = voices(rng, 2, shared=0.3, hz=7600.0)
    source = PRIOR.operating_point(PRIOR.statistics([*phone, *app], updated_at=NOW)).source
    assert source.description == (
        "adapted from 5 profiles and 15 clips (3 narrowband pairs, 1 wideband)"
    )
    alone = PRIOR.operating_point(PRIOR.statistics(app, updated_at=NOW)).source
    assert alone.description == "adapted from 2 profiles and 6 clips (1 wideband pair)"


def test_a_namespace_mixing_bands_keeps_a_centre_per_band_and_one_mean_of_neither(rng):
    """One mean of two channels' voices would pull each band's voices towards the other
    channel: a telephone call of an app-enrolled owner would score lower against their
    own voiceprint. So each band keeps its own centre, and the namespace's one centre is
    the shipped one. Two profiles of each band make a namespace mixed; one does not."""
    shipped = PRIOR.centre
    phone = voices(rng, 4, shared=0.8, hz=3400.0)
    app = voices(rng, 4, shared=0.3, hz=7600.0)
    mixed = PRIOR.statistics([*phone, *app], updated_at=NOW)
    assert mixed is not None and mixed.other_pairs and mixed.centre is not None
    np.testing.assert_allclose(PRIOR.centre_for(mixed), shipped, atol=1e-6)
    centres = PRIOR.band_centres_for(mixed)
    assert centres is not None and set(centres) == {Band.WIDE, Band.NARROW}
    phone_mean = np.mean([p.voiceprint for p in phone], axis=0)
    np.testing.assert_allclose(
        centres[Band.NARROW], (4 * phone_mean + 40 * shipped) / 44, atol=1e-6
    )
    point = PRIOR.operating_point(mixed)
    assert point.side_centre(Band.NARROW) is point.band_centres[Band.NARROW]
    assert point.side_centre(None) is point.centre  # a profile of mixed clips
    one_phone = PRIOR.statistics([*app, phone[0]], updated_at=NOW)
    assert one_phone is not None and not one_phone.other_pairs
    assert np.abs(PRIOR.centre_for(one_phone) - shipped).max() > 1e-3  # its own mean counts
    assert PRIOR.band_centres_for(one_phone) is None
    assert PRIOR.operating_point(one_phone).band_centres is None


def test_statistics_of_a_mixed_namespace_stored_without_band_centres_are_stale(rng):
    phone = voices(rng, 3, shared=0.8, hz=3400.0)
    app = voices(rng, 3, shared=0.3, hz=7600.0)
    mixed = PRIOR.statistics([*phone, *app], updated_at=NOW)
    assert mixed is not None and PRIOR.current(mixed)
    assert not PRIOR.current(replace(mixed, band_centres=None))
    single = PRIOR.statistics(app, updated_at=NOW)
    assert single is not None and PRIOR.current(replace(single, band_centres=None))
