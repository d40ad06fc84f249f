"""Where decisions come from: the prior, then the namespace's own profiles, kept in the store."""

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from voxprint import views
from voxprint.cli.thresholds import report_text
from voxprint.decision import Decision, SourceKind
from voxprint.enrollment import EnrollmentPolicy
from voxprint.operating_points import calibrated_operating_point
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.scorer import Probe, Scorer
from voxprint.scoring.centring import namespace_centre
from voxprint.service import VoxprintService
from voxprint.store import SQLiteStore
from voxprint.store.records import Band, Cohort, ScoreScale
from voxprint.thresholds import _RescaledCache, threshold_report

from fakes import (
    RATE,
    TONE_PRIOR,
    EnergyVad,
    ToneEncoder,
    tone_calibration,
    tone_thresholds,
    voice,
)


def make_service(db, namespace="default") -> VoxprintService:
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    store = SQLiteStore(db)
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=5.0),
        namespace=namespace,
    )


def enrol(service, name, fundamental, seed=1):
    profile = service.create_profile(name)
    service.enroll(profile.id, (voice(fundamental, 6.0, seed=seed), RATE))
    return profile


def kind(service) -> SourceKind:
    return service.operating_point_source().kind


def test_the_prior_decides_until_two_profiles_are_enrolled_then_the_namespace_does(tmp_path):
    service = make_service(tmp_path / "t.db")
    assert kind(service) is SourceKind.PRIOR
    alice = enrol(service, "alice", 110)
    assert kind(service) is SourceKind.PRIOR  # one profile: no different-speaker pairs
    enrol(service, "bob", 260)
    source = service.operating_point_source()
    assert source.kind is SourceKind.ADAPTED
    assert (source.profiles, source.clips) == (2, 2) and source.updated_at is not None
    result = service.verify(alice.id, (voice(110, 3.0, seed=7), RATE))
    assert result.source == source and result.decision is Decision.ACCEPT


def test_deleting_or_resetting_a_profile_updates_the_adaptation(tmp_path):
    service = make_service(tmp_path / "t.db")
    enrol(service, "alice", 110)
    bob = enrol(service, "bob", 260)
    carol = enrol(service, "carol", 180)
    assert service.operating_point_source().profiles == 3
    service.delete_profile(bob.id)
    assert service.operating_point_source().profiles == 2
    service.reset_profile(carol.id)
    assert kind(service) is SourceKind.PRIOR
    single = service.thresholds.statistics(service.namespace)
    assert single is not None and (single.profiles, single.pairs) == (1, 0)
    service.delete_profile(carol.id)
    enrolled_alone = service.list_profiles()[0]
    service.delete_profile(enrolled_alone.id)
    assert service.thresholds.statistics(service.namespace) is None


def test_the_adaptation_survives_a_restart(tmp_path):
    first = make_service(tmp_path / "t.db")
    enrol(first, "alice", 110)
    enrol(first, "bob", 260)
    before = first.thresholds.statistics(first.namespace)
    first.store.close()
    again = make_service(tmp_path / "t.db")
    assert again.thresholds.statistics(again.namespace) == before
    assert again.operating_point_source().kind is SourceKind.ADAPTED


def test_one_namespace_never_moves_another_namespaces_thresholds(tmp_path):
    tenant_a = make_service(tmp_path / "t.db", namespace="a")
    tenant_b = tenant_a.in_namespace("b")
    enrol(tenant_b, "bea", 120)
    enrol(tenant_b, "ben", 240)
    before = tenant_b.thresholds.operating_point("b")
    for i in range(6):  # tenant A fills its namespace with its own profiles
        enrol(tenant_a, f"a{i}", 100 + 37 * i, seed=i)
    assert tenant_b.thresholds.operating_point("b") == before
    assert tenant_a.operating_point_source().profiles == 6
    assert tenant_b.operating_point_source().profiles == 2


def test_crafted_profiles_cannot_lower_the_bar_below_the_prior_floor(tmp_path):
    """An attacker with a key enrols many profiles of pure tones far apart (strangers that
    never look alike): the adapted impostor mean stops at the prior's floor, and another
    speaker still cannot pass as an enrolled one."""
    service = make_service(tmp_path / "t.db")
    victim = enrol(service, "victim", 150)
    stranger = (voice(200, 3.0, seed=9), RATE)
    before = service.verify(victim.id, stranger)
    for i, f0 in enumerate(np.linspace(400, 1900, 12)):
        profile = service.create_profile(f"crafted-{i}")
        tone = 0.2 * np.sin(2 * np.pi * f0 * np.arange(6 * RATE) / RATE).astype(np.float32)
        service.enroll(profile.id, (tone, RATE), check_quality=False)
    point = service.thresholds.operating_point(service.namespace)
    floor = TONE_PRIOR.impostors[next(iter(TONE_PRIOR.impostors))].mean_floor
    assert all(model.impostors.mean >= floor for model in point.models.values())
    after = service.verify(victim.id, stranger)
    assert before.decision is after.decision is Decision.REJECT


def test_the_threshold_report_says_what_is_in_force_and_where_it_came_from(tmp_path):
    service = make_service(tmp_path / "t.db")
    report = service.threshold_report()
    assert report.source.kind is SourceKind.PRIOR and report.statistics is None
    assert report.verification_threshold == TONE_PRIOR.verification_threshold
    assert {band.band for band in report.bands} == set(TONE_PRIOR.impostors)
    enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    report = service.threshold_report()
    assert report.source.kind is SourceKind.ADAPTED
    assert report.statistics is not None and report.statistics.pairs == 1
    for band in report.bands:
        assert band.impostor_mean is not None and band.cosine_to_accept
        assert all(band.impostor_mean < c < 1.0 for c in band.cosine_to_accept.values())


def test_the_impostor_point_without_a_profile_leaves_its_pairs_out(tmp_path):
    service = make_service(tmp_path / "t.db")
    alice = enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    twin = enrol(service, "alice again", 110, seed=5)
    ns = service.namespace
    with_twin = service.thresholds.operating_point(ns).source
    without = service.thresholds.impostor_point(ns, excluding=twin.id)
    assert with_twin.profiles == 3 and without is not None
    assert without.source.profiles == 2
    lifted = service.thresholds.impostor_point(ns, excluding=alice.id)
    assert lifted is not None and lifted.source.profiles == 2
    own = service.thresholds.impostor_point(ns, excluding="not-a-profile")
    assert own is not None and own.source.profiles == 3


def test_the_impostor_point_needs_a_built_in_prior(tmp_path):
    service = make_service(tmp_path / "t.db")
    enrol(service, "alice", 110)
    no_prior = replace(service.thresholds, prior=None)
    assert no_prior.impostor_point(service.namespace, excluding="x") is None


def store_stale_statistics(service, **changes):
    """Enrol two profiles, then store their statistics as an earlier voxprint would have
    (no shrinkage recorded, ``changes`` applied): the fresh statistics and the stale row."""
    enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    thresholds = service.thresholds
    fresh = thresholds.statistics(service.namespace)
    assert fresh is not None
    stale = replace(fresh, shrink_seconds=None, speech_offset=None, **changes)
    service.store.save_statistics(
        service.namespace, thresholds.encoder_name, thresholds.encoder_version, stale
    )
    return fresh, stale


def test_statistics_scaled_with_another_shrinkage_are_recomputed_without_a_write(tmp_path):
    """Statistics stored by an earlier voxprint, whose prior had another shrinkage, are not
    trusted: the namespace's profiles give fresh ones, the stale row is left for the next
    enrolment to replace, and an enrolment then stores statistics with the prior's."""
    service = make_service(tmp_path / "t.db")
    ns, thresholds = service.namespace, service.thresholds
    fresh, stale = store_stale_statistics(service, pair_mean=0.9)
    assert fresh.scaled_with(TONE_PRIOR.shrink_seconds, TONE_PRIOR.speech_offset)

    recomputed = thresholds.statistics(ns)
    assert recomputed is not None and recomputed.pair_mean == fresh.pair_mean
    assert recomputed.scaled_with(TONE_PRIOR.shrink_seconds, TONE_PRIOR.speech_offset)
    assert thresholds.statistics(ns) is recomputed  # once per stale row, not per decision
    stored = service.store.get_statistics(ns, thresholds.encoder_name, thresholds.encoder_version)
    assert stored == stale
    # Nothing changed in the namespace: "last changed" stays the stored row's time (found
    # in a walkthrough: `thresholds show` gave the passphrase point the time of asking).
    assert recomputed.updated_at == stale.updated_at
    another_process = replace(thresholds, _rescaled=_RescaledCache())
    assert another_process.statistics(ns) == recomputed  # the same time there too
    assert thresholds.operating_point(ns) == TONE_PRIOR.operating_point(recomputed)

    enrol(service, "carol", 180)
    stored = service.store.get_statistics(ns, thresholds.encoder_name, thresholds.encoder_version)
    assert stored is not None and stored.profiles == 3
    assert stored.scaled_with(TONE_PRIOR.shrink_seconds, TONE_PRIOR.speech_offset)


def test_statistics_stored_before_each_bands_pairs_were_kept_apart_are_recomputed(tmp_path):
    """Rows from before schema 10 blended both bands' pairs into one population."""
    service = make_service(tmp_path / "t.db")
    ns, thresholds = service.namespace, service.thresholds
    enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    fresh = thresholds.statistics(ns)
    assert fresh is not None and fresh.other_pairs == 0
    blended = replace(fresh, other_pairs=None, pair_mean=0.9)
    service.store.save_statistics(ns, thresholds.encoder_name, thresholds.encoder_version, blended)
    recomputed = thresholds.statistics(ns)
    assert recomputed is not None and recomputed.pair_mean == fresh.pair_mean
    assert recomputed.other_pairs == 0


def centring_service(db):
    """A service whose prior centres: the tone prior with a shipped centre."""
    service = make_service(db)
    dim = ToneEncoder().dimension
    shipped = np.full(dim, 0.3 / np.sqrt(dim), np.float32)
    prior = replace(TONE_PRIOR, centre=shipped)
    return replace(service, thresholds=replace(service.thresholds, prior=prior)), shipped


def test_a_centring_prior_centres_each_namespace_on_its_stored_profiles_mean(tmp_path):
    service, shipped = centring_service(tmp_path / "t.db")
    ns, thresholds = service.namespace, service.thresholds
    assert thresholds.operating_point(ns).centre == pytest.approx(shipped)  # nobody enrolled
    alice, bob = enrol(service, "alice", 110), enrol(service, "bob", 260)
    stored = service.store.get_statistics(ns, thresholds.encoder_name, thresholds.encoder_version)
    assert stored is not None and stored.centre is not None
    voiceprints = [service.get_profile(p.id).voiceprint for p in (alice, bob)]
    np.testing.assert_allclose(stored.centre, np.mean(voiceprints, axis=0), atol=1e-6)
    expected = namespace_centre(shipped, np.mean(voiceprints, axis=0), 2)
    np.testing.assert_allclose(thresholds.operating_point(ns).centre, expected, atol=1e-6)
    restarted = replace(thresholds, store=SQLiteStore(tmp_path / "t.db"))
    np.testing.assert_allclose(restarted.operating_point(ns).centre, expected, atol=1e-6)
    other = replace(service, namespace="elsewhere")
    assert other.thresholds.operating_point("elsewhere").centre == pytest.approx(shipped)
    result = service.verify(alice.id, (voice(110, 4.0, seed=9), RATE))
    assert result.decision is Decision.ACCEPT
    report = threshold_report(thresholds, ns)
    assert report.centre_profiles == 2 and report.centre_own_share == pytest.approx(2 / 42)
    shown = views.thresholds(report)["centre"]
    assert shown == {"profiles": 2, "own_share": pytest.approx(2 / 42), "bands": None}
    assert "mean voiceprint of 2 enrolled profiles (5 % of the centre)" in report_text(report)
    plain = threshold_report(make_service(tmp_path / "plain.db").thresholds, ns)
    assert plain.centre_profiles is None and views.thresholds(plain)["centre"] is None


def test_uncentred_statistics_are_recomputed_for_a_centring_prior_and_the_other_way_round(
    tmp_path,
):
    service, _ = centring_service(tmp_path / "t.db")
    ns, thresholds = service.namespace, service.thresholds
    enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    fresh = thresholds.statistics(ns)
    assert fresh is not None and fresh.centre is not None
    key = (ns, thresholds.encoder_name, thresholds.encoder_version)
    service.store.save_statistics(*key, replace(fresh, centre=None, pair_mean=0.9))
    recomputed = thresholds.statistics(ns)
    assert recomputed is not None and recomputed.centre == fresh.centre
    assert recomputed.pair_mean == pytest.approx(fresh.pair_mean)
    plain = replace(thresholds, prior=TONE_PRIOR)  # a prior that does not centre
    service.store.save_statistics(*key, fresh)
    uncentred = plain.statistics(ns)
    assert uncentred is not None and uncentred.centre is None
    assert plain.operating_point(ns).centre is None


def test_statistics_of_an_encoder_without_a_prior_are_returned_as_stored(tmp_path):
    service = make_service(tmp_path / "t.db")
    enrol(service, "alice", 110)
    enrol(service, "bob", 260)
    ns = service.namespace
    stored = service.thresholds.statistics(ns)
    assert stored is not None
    stale = replace(stored, shrink_seconds=None, speech_offset=None)
    thresholds = replace(service.thresholds, prior=None)
    service.store.save_statistics(ns, thresholds.encoder_name, thresholds.encoder_version, stale)
    assert thresholds.statistics(ns) == stale


def test_an_operating_point_knows_the_band_its_gallery_was_enrolled_in(tmp_path):
    service = make_service(tmp_path / "t.db")
    ns = service.namespace
    assert service.thresholds.operating_point(ns).gallery_band is None  # nobody enrolled
    enrol(service, "alice", 110)
    single = service.thresholds.statistics(ns)
    point = service.thresholds.operating_point(ns)
    assert single is not None and point.gallery_band is single.band  # one profile: known
    assert point.source.kind is SourceKind.PRIOR  # ... but nothing adapted
    enrol(service, "bob", 260)
    point = service.thresholds.operating_point(ns)
    stats = service.thresholds.statistics(ns)
    assert stats is not None and point.gallery_band is stats.band


def test_priors_with_other_shrinkages_never_serve_each_other_recomputed_statistics(tmp_path):
    """The passphrase prior shares the cache with the text-independent one."""
    service = make_service(tmp_path / "t.db")
    ns, core = service.namespace, service.thresholds
    store_stale_statistics(service)
    other = replace(core, prior=replace(TONE_PRIOR, shrink_seconds=0.5))
    first = other.statistics(ns)
    assert first is not None and first.shrink_seconds == 0.5
    second = core.statistics(ns)
    assert second is not None and second.shrink_seconds == TONE_PRIOR.shrink_seconds
    assert other.statistics(ns) is first  # each kept, not recomputed again


def test_each_bands_own_profiles_are_sampled_so_a_few_telephone_ones_among_many_count(
    tmp_path, monkeypatch
):
    """A sample of the namespace's first profiles by id would hold few of a band that is
    rare there (found in review: 20 telephone profiles among 2,000 app ones left the
    narrowband model one pair)."""
    import voxprint.thresholds as thresholds_module

    monkeypatch.setattr(thresholds_module, "MAX_SAMPLED_PROFILES", 3)
    service = make_service(tmp_path / "t.db")
    for i, f0 in enumerate((100, 130, 170, 220, 290, 380)):
        enrol(service, f"app {i}", f0)
    for i, f0 in enumerate((115, 150, 250)):
        phone = service.create_profile(f"phone {i}")
        service.enroll(phone.id, (voice(f0, 6.0, seed=1)[::2], RATE // 2))
    stats = service.thresholds.statistics(service.namespace)
    assert stats is not None
    pairs = {stats.band: stats.pairs, stats.of_other_band().band: stats.of_other_band().pairs}
    assert pairs[Band.NARROW] == 3  # the three telephone profiles, whatever their ids
    assert pairs[Band.WIDE] >= 3  # the first three app profiles at least
    assert stats.profiles <= 3 + 3 + 3


def test_a_scorer_takes_its_point_and_cohort_from_one_read_of_the_calibrations(tmp_path):
    """Two reads could pair a new AS-Norm calibration with the old read's missing cohort
    (found in review: a 400 blaming the client while `voxprint calibrate` ran)."""
    store = SQLiteStore(tmp_path / "one.db")
    thresholds = tone_thresholds(store)
    reads = []
    original = store.scoring_version

    def counting() -> int:
        reads.append(1)
        return original()

    store.scoring_version = counting  # type: ignore[method-assign]
    scorer = thresholds.scorer("default")
    assert len(reads) == 1 and scorer.point.rival_weight == thresholds.rival_weight


def test_a_source_that_ignores_calibrations_keeps_the_prior_unless_it_has_none(tmp_path):
    """Passphrase claims decide with their own prior whatever ordinary trials were
    calibrated (found in a walkthrough: a calibration on LibriSpeech sentences accepted
    other speakers saying a passphrase)."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(tone_calibration())
    assert thresholds.operating_point("default").source.kind is SourceKind.CALIBRATED
    ignoring = replace(thresholds, use_calibration=False)
    assert ignoring.operating_point("default").source.kind is SourceKind.PRIOR
    without_prior = replace(ignoring, prior=None)  # nothing else to decide with
    assert without_prior.operating_point("default").source.kind is SourceKind.CALIBRATED


def wideband_calibration():
    return replace(tone_calibration(), bands=frozenset({Band.WIDE}))


def test_a_calibration_of_wideband_trials_decides_wideband_claims_only(tmp_path):
    """A calibration fitted on wideband trials says nothing about how strangers score on
    the telephone (found in a walkthrough: the cosine needed for 8 kHz claims fell from
    0.70 to 0.34 once a wideband calibration was stored)."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(wideband_calibration())
    assert thresholds.operating_point("default", Band.WIDE).source.kind is SourceKind.CALIBRATED
    assert thresholds.operating_point("default").source.kind is SourceKind.CALIBRATED  # unknown
    narrow = thresholds.operating_point("default", Band.NARROW)
    assert narrow.source.kind is SourceKind.PRIOR
    assert "narrowband claims are not decided by the calibration" in narrow.source.description
    assert narrow.models == TONE_PRIOR.operating_point().models
    assert thresholds.scorer("default", Band.NARROW).point.source == narrow.source


NOW = datetime.now(UTC)


def narrowband_calibration():
    return replace(tone_calibration(threshold=0.8), bands=frozenset({Band.NARROW}))


def test_a_wideband_calibration_survives_a_later_narrowband_one_and_each_decides_its_band(
    tmp_path,
):
    """Calibrating telephone trials used to replace the app calibration: the app band
    silently lost its own (issue 11)."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(wideband_calibration())
    store.save_calibration(narrowband_calibration())
    wide, narrow = thresholds.calibrations
    assert (wide.bands, narrow.bands) == (frozenset({Band.WIDE}), frozenset({Band.NARROW}))
    assert thresholds.operating_point("default", Band.WIDE) == calibrated_operating_point(wide)
    assert thresholds.operating_point("default", Band.NARROW) == calibrated_operating_point(narrow)
    assert thresholds.calibration(Band.NARROW) == narrow
    assert thresholds.operating_point("default") == calibrated_operating_point(wide)  # unknown
    scorer = thresholds.scorer("default", Band.NARROW)
    assert scorer.point == calibrated_operating_point(narrow)
    assert (
        scorer.point.verification_threshold
        > thresholds.operating_point("default", Band.WIDE).verification_threshold
    )  # its own fitted threshold, higher


def test_a_decision_whose_bands_are_not_known_is_never_decided_by_a_narrowband_calibration(
    tmp_path,
):
    """Two voiceprints compared with no audio are judged as wideband, as unmeasured audio
    is: a telephone calibration alone used to decide them (it was the first in force)."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(narrowband_calibration())
    unknown = thresholds.operating_point("default")
    assert unknown.source.kind is SourceKind.PRIOR
    assert unknown.models == TONE_PRIOR.operating_point().models
    assert "wideband claims are not decided by the calibration" in unknown.source.description
    assert thresholds.calibration() is None and thresholds.calibrated is None
    narrow = thresholds.operating_point("default", Band.NARROW)
    assert narrow.source.kind is SourceKind.CALIBRATED
    alone = replace(thresholds, prior=None, fallback=None)  # nothing else: it decides
    assert alone.operating_point("default").source.kind is SourceKind.CALIBRATED


def test_a_decision_scoring_both_bands_is_decided_uncalibrated_beside_a_calibration_per_band(
    tmp_path,
):
    """One decision, one point: neither band's calibration covers an identification among
    app and telephone profiles, so the namespace's own point decides it whole."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(wideband_calibration())
    store.save_calibration(narrowband_calibration())
    mixed = thresholds.operating_point("default", *Band)
    assert mixed.source.kind is SourceKind.PRIOR
    assert mixed.models == TONE_PRIOR.operating_point().models
    assert "wideband and narrowband pairs together is not decided by a calibration" in (
        mixed.source.description
    )
    assert thresholds.calibration(*Band) is None
    alone = replace(thresholds, prior=None, fallback=None)  # nothing else: a calibration
    assert alone.operating_point("default", *Band).source.kind is SourceKind.CALIBRATED


def test_a_later_calibration_of_both_bands_decides_every_claim_in_place_of_each_bands(tmp_path):
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(wideband_calibration())
    store.save_calibration(narrowband_calibration())
    store.save_calibration(replace(tone_calibration(threshold=0.6), bands=frozenset(Band)))
    (both,) = thresholds.calibrations
    assert (both.bands, both.threshold) == (frozenset(Band), 0.6)
    for bands in ((), (Band.WIDE,), (Band.NARROW,), tuple(Band)):
        assert thresholds.operating_point("default", *bands) == calibrated_operating_point(both)


def test_a_band_without_an_as_norm_calibration_keeps_its_cosine_one(tmp_path, rng):
    """A cohort rebuilt between two bands' calibrations drops the first band's AS-Norm
    calibration only: its cosine calibration still decides its claims."""
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_cohort(
        Cohort("tone", "1", rng.normal(size=(6, 8)).astype(np.float32), ("a",) * 6, NOW)
    )
    store.save_calibration(wideband_calibration())
    narrowband = frozenset({Band.NARROW})
    store.save_calibration(replace(tone_calibration(ScoreScale.ASNORM, 3.0), bands=narrowband))
    asnorm, cosine = thresholds.calibrations  # AS-Norm first where it covers the band
    assert (asnorm.scale, asnorm.bands) == (ScoreScale.ASNORM, narrowband)
    assert (cosine.scale, cosine.bands) == (ScoreScale.COSINE, frozenset({Band.WIDE}))
    narrow = thresholds.operating_point("default", Band.NARROW)
    assert narrow.normalized and narrow == calibrated_operating_point(asnorm)
    wide = thresholds.scorer("default", Band.WIDE)
    assert not wide.point.normalized and wide.point.source.kind is SourceKind.CALIBRATED


@pytest.mark.parametrize("bands", [frozenset(Band), None], ids=["both", "not recorded"])
def test_a_calibration_of_both_bands_or_from_before_they_were_recorded_decides_every_claim(
    tmp_path, bands
):
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = tone_thresholds(store)
    store.save_calibration(replace(tone_calibration(), bands=bands))
    for bands in ((), (Band.WIDE,), (Band.NARROW,), tuple(Band)):
        assert thresholds.operating_point("default", *bands).source.kind is SourceKind.CALIBRATED


def test_with_nothing_else_to_decide_with_a_calibration_decides_the_other_band_too(tmp_path):
    store = SQLiteStore(tmp_path / "c.db")
    thresholds = replace(tone_thresholds(store), prior=None, fallback=None)
    store.save_calibration(wideband_calibration())
    point = thresholds.operating_point("default", Band.NARROW)
    assert point.source.kind is SourceKind.CALIBRATED


def test_claims_of_the_band_a_calibration_never_saw_keep_the_namespaces_own_point(tmp_path):
    service = make_service(tmp_path / "t.db")
    ns = service.namespace
    profiles = {}
    for name, f0 in (("alice", 110), ("bob", 260), ("carol", 180)):
        profiles[name] = service.create_profile(name)
        service.enroll(profiles[name].id, (voice(f0, 6.0, seed=1)[::2], RATE // 2))
    adapted = service.thresholds.operating_point(ns)
    assert adapted.source.kind is SourceKind.ADAPTED
    service.store.save_calibration(wideband_calibration())
    phone_probe = (voice(110, 3.0, seed=7)[::2], RATE // 2)
    claim = service.verify(profiles["alice"].id, phone_probe)
    assert claim.source.kind is SourceKind.ADAPTED
    assert claim.source.description.startswith(adapted.source.description)
    named = service.identify(phone_probe)
    assert named.source.kind is SourceKind.ADAPTED
    assert named.identified is not None and named.identified.name == "alice"
    both_phone = service.compare(phone_probe, (voice(110, 3.0, seed=9)[::2], RATE // 2))
    assert both_phone.source.kind is SourceKind.ADAPTED
    # Wideband recordings are the calibration's own band.
    both_wide = service.compare((voice(110, 3.0, seed=7), RATE), (voice(110, 3.0, seed=9), RATE))
    assert both_wide.source.kind is SourceKind.CALIBRATED
    # An app recording among telephone enrolments is judged as its telephone copy: a
    # narrowband pair (found in review: a wideband calibration named 38 of 60 strangers).
    app = service.identify((voice(110, 3.0, seed=7), RATE))
    assert app.source.kind is SourceKind.ADAPTED and app.identified is not None


def test_a_decision_is_calibrated_only_when_the_calibration_covers_every_pair_it_scores(tmp_path):
    """A mixed namespace: a claim's band is its pair's, a telephone probe against an app
    enrolment is a wideband pair, and an identification scores every candidate's pair."""
    service = make_service(tmp_path / "t.db")
    app = {}
    for name, f0 in (("alice", 110), ("bob", 260)):
        app[name] = service.create_profile(name)
        service.enroll(app[name].id, (voice(f0, 6.0, seed=1), RATE))
    for name, f0 in (("carol", 180), ("dave", 330)):
        phone = service.create_profile(name)
        service.enroll(phone.id, (voice(f0, 6.0, seed=1)[::2], RATE // 2))
    service.store.save_calibration(wideband_calibration())
    phone_probe = (voice(110, 3.0, seed=7)[::2], RATE // 2)
    claim = service.verify(app["alice"].id, phone_probe)  # 8 kHz against an app voiceprint
    assert claim.source.kind is SourceKind.CALIBRATED
    among_app = service.identify(phone_probe, profile_ids=[p.id for p in app.values()])
    assert among_app.source.kind is SourceKind.CALIBRATED  # only wideband pairs scored
    among_all = service.identify(phone_probe)  # the telephone profiles' pairs are narrowband
    assert among_all.source.kind is SourceKind.ADAPTED


def test_the_threshold_report_says_which_bands_a_calibration_decides(tmp_path):
    service = make_service(tmp_path / "t.db")
    service.store.save_calibration(wideband_calibration())
    report = threshold_report(service.thresholds, service.namespace)
    assert report.source.kind is SourceKind.CALIBRATED
    assert report.calibration_bands == (Band.WIDE,)
    rows = {row.band: row for row in report.bands}
    assert rows[Band.WIDE].source is None  # decided by the report's own point
    narrow = rows[Band.NARROW]
    assert narrow.source is not None and narrow.source.kind is SourceKind.PRIOR
    assert narrow.verification_threshold is not None and narrow.impostor_mean is not None
    text = report_text(report)
    assert "fitted on wideband trials" in text and "narrowband claims: prior" in text
    data = views.thresholds(report)
    assert data["calibration_bands"] == ["wideband"]
    assert [row["source"] is None for row in data["bands"]] == [True, False]


def test_the_threshold_report_lists_each_stored_calibration_with_its_bands(tmp_path, rng):
    service = make_service(tmp_path / "t.db")
    service.store.save_calibration(wideband_calibration())
    service.store.save_calibration(narrowband_calibration())
    # An AS-Norm calibration without a cohort decides nothing.
    service.store.save_calibration(replace(tone_calibration(ScoreScale.ASNORM, 3.0), bands=None))
    report = threshold_report(service.thresholds, service.namespace)
    listed = [(r.calibration.scale, r.calibration.bands, r.in_use) for r in report.calibrations]
    assert listed == [
        (ScoreScale.COSINE, frozenset({Band.WIDE}), True),
        (ScoreScale.COSINE, frozenset({Band.NARROW}), True),
        (ScoreScale.ASNORM, None, False),
    ]
    rows = {row.band: row for row in report.bands}
    assert rows[Band.NARROW].source is not None
    assert rows[Band.NARROW].source.kind is SourceKind.CALIBRATED
    text = report_text(report)
    assert "stored calibration (cosine) of wideband claims: threshold 0.5000" in text
    assert "stored calibration (cosine) of narrowband claims: threshold 0.8000" in text
    assert "stored calibration (asnorm) of every band" in text and "not in use" in text
    data = views.thresholds(report)
    assert [(c["bands"], c["in_use"]) for c in data["calibrations"]] == [
        (["wideband"], True),
        (["narrowband"], True),
        (None, False),
    ]


def test_the_threshold_report_of_a_calibration_of_every_band_lists_no_other_point(tmp_path):
    service = make_service(tmp_path / "t.db")
    service.store.save_calibration(replace(tone_calibration(), bands=frozenset(Band)))
    report = threshold_report(service.thresholds, service.namespace)
    assert report.calibration_bands == (Band.WIDE, Band.NARROW)
    assert all(row.source is None for row in report.bands)
    assert "fitted on" not in report_text(report)


def test_a_calibration_stored_before_bands_were_recorded_says_it_decides_every_band(tmp_path):
    service = make_service(tmp_path / "t.db")
    service.store.save_calibration(replace(tone_calibration(), bands=None))
    report = threshold_report(service.thresholds, service.namespace)
    assert report.calibration_bands is None and report.source.kind is SourceKind.CALIBRATED
    assert "stored before voxprint recorded its trials' bands" in report_text(report)


def test_a_namespace_mixing_bands_centres_each_side_on_its_own_bands_centre(tmp_path):
    service, shipped = centring_service(tmp_path / "t.db")
    ns = service.namespace
    enrol(service, "alice", 110), enrol(service, "bob", 260)
    phones = []
    for name, f0 in (("carol", 150), ("dave", 330)):
        phone = service.create_profile(name)
        service.enroll(phone.id, (voice(f0, 6.0, seed=1)[::2], RATE // 2))
        phones.append(phone)
    point = service.thresholds.operating_point(ns)
    assert point.band_centres is not None and set(point.band_centres) == set(Band)
    np.testing.assert_allclose(point.centre, shipped, atol=1e-6)  # neither band's mean
    carol = service.get_profile(phones[0].id)
    dave = service.get_profile(phones[1].id)
    stored = service.thresholds.statistics(ns)
    assert stored is not None and stored.band_centre(Band.NARROW) is not None
    np.testing.assert_allclose(
        stored.band_centre(Band.NARROW).mean,
        np.mean([carol.voiceprint, dave.voiceprint], axis=0),
        atol=1e-6,
    )
    call = (voice(150, 4.0, seed=9)[::2], RATE // 2)
    result = service.verify(dave.id, call)  # carol's call claimed as dave's
    probe = Probe.of(service.pipeline.process_waveform(service.pipeline.load(call)))
    scorer = Scorer(point)
    per_side = scorer.cosines(probe, dave.voiceprint, [Band.NARROW])[0]
    assert result.cosine == pytest.approx(per_side, abs=1e-6)
    assert abs(per_side - scorer.cosines(probe, dave.voiceprint)[0]) > 1e-3  # not one centre
    report = threshold_report(service.thresholds, ns)
    assert report.band_centres == {
        Band.WIDE: (2, pytest.approx(2 / 42)),
        Band.NARROW: (2, pytest.approx(2 / 42)),
    }
    shown = views.thresholds(report)["centre"]
    assert shown["profiles"] == 0 and shown["bands"]["narrowband"]["profiles"] == 2
    assert "each side of a pair is taken around its own band's centre" in report_text(report)
    service.delete_profile(dave.id)  # one telephone profile: no longer mixed
    assert service.thresholds.operating_point(ns).band_centres is None
    assert threshold_report(service.thresholds, ns).band_centres is None
