"""The one scoring chain: verification, comparison and open-set identification."""

from dataclasses import replace

import numpy as np
import pytest

from voxprint.adaptation import Band
from voxprint.decision import Decision, DecisionReason, OperatingPoint, SourceKind, ThresholdSource
from voxprint.errors import InvalidParameterError
from voxprint.scorer import Probe, Rivals, Scorer
from voxprint.scoring.llr import ConditionModel, ImpostorScores, LogisticModel, TargetScores
from voxprint.scoring.similarity import l2_normalise

MODEL = ConditionModel(
    ImpostorScores(0.1, 0.1), TargetScores(0.92, 0.08, 0.035), shrink_seconds=0.84
)
POINT = OperatingPoint(
    models={band: MODEL for band in Band}, source=ThresholdSource(SourceKind.PRIOR, "test")
)
DIM = 32


def unit(rng, n=1):
    return l2_normalise(rng.normal(size=(n, DIM)).astype(np.float32))


def near(vector, cosine, rng):
    """A unit vector with the given cosine to ``vector``."""
    other = rng.normal(size=DIM)
    other -= other @ vector * vector
    other /= np.linalg.norm(other)
    return (cosine * vector + np.sqrt(1 - cosine**2) * other).astype(np.float32)


def test_the_owner_is_accepted_and_a_stranger_rejected(rng):
    voiceprint = unit(rng)[0]
    owner = Scorer(POINT).verify(Probe(near(voiceprint, 0.85, rng), 5.0), voiceprint, 20.0)
    stranger = Scorer(POINT).verify(Probe(near(voiceprint, 0.1, rng), 5.0), voiceprint, 20.0)
    assert (owner.decision, owner.reason) == (Decision.ACCEPT, DecisionReason.MATCH)
    assert owner.score > 0.99 and owner.cosine == pytest.approx(0.85, abs=1e-5)
    assert (stranger.decision, stranger.reason) == (Decision.REJECT, DecisionReason.NO_MATCH)
    assert stranger.score < 0.01
    assert owner.cosine_threshold is not None and 0.1 < owner.cosine_threshold < 0.85


def test_with_a_centre_both_sides_are_centred_before_their_cosine_is_taken(rng):
    """A shared channel lifts a stranger over the bar as recorded; centred on it, the
    stranger falls back to what a stranger scores, and the owner stays accepted."""
    channel = unit(rng)[0]
    voice, stranger = unit(rng, 2)
    voiceprint = l2_normalise(voice + 1.5 * channel)
    owner = l2_normalise(near(voice, 0.8, rng) + 1.5 * channel)
    other = l2_normalise(stranger + 1.5 * channel)
    raw, centred_point = Scorer(POINT), Scorer(replace(POINT, centre=l2_normalise(channel) * 0.8))
    lifted = raw.verify(Probe(other, 10.0), voiceprint, 20.0)
    assert lifted.decision is Decision.ACCEPT  # the channel alone clears the bar
    assert centred_point.verify(Probe(other, 10.0), voiceprint, 20.0).decision is Decision.REJECT
    kept = centred_point.verify(Probe(owner, 10.0), voiceprint, 20.0)
    assert kept.decision is Decision.ACCEPT
    at = centred_point.point.centre
    expected = l2_normalise(owner - at) @ l2_normalise(voiceprint - at)
    assert kept.cosine == pytest.approx(float(expected), abs=1e-5)
    ranking = centred_point.identify(
        Probe(owner, 10.0), np.stack([voiceprint]), np.array([20.0]), top_n=1
    )
    assert ranking.candidates[0].cosine == pytest.approx(kept.cosine, abs=1e-6)
    shown = centred_point.cosines(Probe(owner, 10.0), voiceprint)  # e.g. a look-alike's
    assert shown.shape == (1,) and shown[0] == pytest.approx(kept.cosine, abs=1e-6)


def test_with_a_centre_per_band_each_side_is_centred_on_its_own_bands(rng):
    """A namespace mixing app and telephone enrolments: an app-enrolled owner calling in
    carries the telephone line, their voiceprint the app's channel. Each side centred on
    its own band's centre takes both out; never above the cosine on the shipped centre."""
    line, app = unit(rng, 2)
    voice = unit(rng)[0]
    voiceprint = l2_normalise(voice + 1.2 * app)
    call = l2_normalise(near(voice, 0.8, rng) + 1.2 * line)
    shipped = np.zeros(DIM, dtype=np.float32)
    point = replace(
        POINT,
        centre=shipped,
        ceiling_centre=None,
        band_centres={Band.NARROW: 0.7 * line, Band.WIDE: 0.7 * app},
    )
    scorer = Scorer(point)
    probe = Probe(call, 10.0, bandwidth_hz=3400.0)
    per_side = scorer.verify(probe, voiceprint, 20.0, side=Band.WIDE)
    expected = l2_normalise(call - 0.7 * line) @ l2_normalise(voiceprint - 0.7 * app)
    assert per_side.cosine == pytest.approx(float(expected), abs=1e-5)
    on_one_centre = float(call @ voiceprint)  # the namespace's one centre: zero here
    assert per_side.cosine > on_one_centre + 0.2
    ranking = scorer.identify(
        probe, np.stack([voiceprint]), np.array([20.0]), top_n=1, sides=[Band.WIDE]
    )
    assert ranking.candidates[0].cosine == pytest.approx(per_side.cosine, abs=1e-6)
    sideless = scorer.identify(probe, np.stack([voiceprint]), np.array([20.0]), top_n=1)
    assert sideless.candidates[0].cosine == pytest.approx(on_one_centre, abs=1e-5)
    capped = Scorer(replace(point, ceiling_centre=shipped))
    assert capped.verify(probe, voiceprint, 20.0, side=Band.WIDE).cosine == pytest.approx(
        on_one_centre, abs=1e-5
    )  # the shipped centre bounds what a namespace's own centres can lift
    mixed_clips = scorer.verify(probe, voiceprint, 20.0)  # a profile of mixed clips
    expected = l2_normalise(call - 0.7 * line) @ voiceprint  # its side on the one centre
    assert mixed_clips.cosine == pytest.approx(float(expected), abs=1e-5)
    with pytest.raises(InvalidParameterError):
        scorer.identify(probe, np.stack([voiceprint]), np.array([20.0]), top_n=1, sides=[])


def test_a_probe_with_too_little_speech_is_not_decided_unless_forced(rng):
    voiceprint = unit(rng)[0]
    probe = Probe(near(voiceprint, 0.9, rng), 0.1)
    verdict = Scorer(POINT).verify(probe, voiceprint, 20.0)
    assert verdict.decision is Decision.REJECT
    assert verdict.reason is DecisionReason.INSUFFICIENT_SPEECH
    forced = Scorer(replace_min(POINT, 0.0)).verify(probe, voiceprint, 20.0)
    assert forced.reason is not DecisionReason.INSUFFICIENT_SPEECH


def test_a_claim_on_a_profile_whose_look_alike_the_probe_matches_better_is_rejected(rng):
    """Two enrolled look-alikes: the probe is B's voice, claimed on A. Against a stranger
    alone the claim passes; weighed against B it is rejected, and B is named as why."""
    a = unit(rng)[0]
    b = near(a, 0.8, rng)
    probe = Probe(near(b, 0.9, rng), 5.0)  # about 0.72 with A
    alone = Scorer(POINT).verify(probe, a, 20.0)
    rivals = Rivals(np.stack([unit(rng)[0], b]), np.array([20.0, 20.0]))
    weighed = Scorer(POINT).verify(probe, a, 20.0, rivals=rivals)
    assert alone.decision is Decision.ACCEPT
    assert weighed.decision is Decision.REJECT and weighed.reason is DecisionReason.LOOK_ALIKE
    assert weighed.rival == 1 and weighed.score < alone.score
    assert weighed.cosine_threshold is not None and alone.cosine_threshold is not None
    assert weighed.cosine_threshold > alone.cosine_threshold


def test_the_same_look_alike_among_many_other_profiles_weighs_less(rng):
    """Rivals are the best candidates of ``others`` profiles: in a namespace of 100,000 the
    look-alike is one of many possible impostors and no longer turns the claim down."""
    a = unit(rng)[0]
    b = near(a, 0.8, rng)
    probe = Probe(near(b, 0.9, rng), 5.0)
    few = Rivals(np.stack([b]), np.array([20.0]), others=3)
    many = Rivals(np.stack([b]), np.array([20.0]), others=100_000)
    assert Scorer(POINT).verify(probe, a, 20.0, rivals=few).decision is Decision.REJECT
    crowded = Scorer(POINT).verify(probe, a, 20.0, rivals=many)
    assert crowded.decision is Decision.ACCEPT and crowded.rival is None


def test_rivals_far_from_the_probe_leave_the_owner_accepted_with_no_rival_named(rng):
    voiceprint = unit(rng)[0]
    probe = Probe(near(voiceprint, 0.85, rng), 5.0)
    rivals = Rivals(np.stack([near(voiceprint, 0.1, rng), unit(rng)[0]]), np.array([20.0, 8.0]))
    weighed = Scorer(POINT).verify(probe, voiceprint, 20.0, rivals=rivals)
    alone = Scorer(POINT).verify(probe, voiceprint, 20.0)
    assert weighed.decision is Decision.ACCEPT and weighed.rival is None
    assert weighed.score == pytest.approx(alone.score, abs=1e-6)


def test_an_operating_point_with_no_rival_weight_ignores_rivals(rng):
    a = unit(rng)[0]
    probe = Probe(near(a, 0.85, rng), 5.0)
    rivals = Rivals(np.stack([probe.embedding]), np.array([20.0]))
    point = replace(POINT, rival_weight=0.0)
    assert Scorer(point).verify(probe, a, 20.0, rivals=rivals) == Scorer(point).verify(
        probe, a, 20.0
    )
    with pytest.raises(InvalidParameterError, match="rival_weight"):
        replace(POINT, rival_weight=-1.0)


def test_a_rejection_for_too_little_speech_names_no_rival(rng):
    a = unit(rng)[0]
    probe = Probe(near(a, 0.9, rng), 0.1)
    rivals = Rivals(np.stack([probe.embedding]), np.array([20.0]))
    verdict = Scorer(POINT).verify(probe, a, 20.0, rivals=rivals)
    assert verdict.reason is DecisionReason.INSUFFICIENT_SPEECH and verdict.rival is None


def replace_min(point, seconds):
    from dataclasses import replace

    return replace(point, min_speech_seconds=seconds)


def test_identification_names_the_owner_among_many(rng):
    gallery = unit(rng, 50)
    probe = Probe(near(gallery[7], 0.85, rng), 5.0)
    ranking = Scorer(POINT).identify(probe, gallery, np.full(50, 20.0), top_n=3)
    assert ranking.identified and ranking.candidates[0].index == 7
    assert len(ranking.candidates) == 3 and ranking.gallery_size == 50
    scores = [c.score for c in ranking.candidates]
    assert scores == sorted(scores, reverse=True)
    assert ranking.candidates[0].score + ranking.unknown_probability <= 1.0 + 1e-9


def test_a_stranger_is_unknown_and_most_of_the_probability_says_so(rng):
    gallery = unit(rng, 50)
    ranking = Scorer(POINT).identify(Probe(unit(rng)[0], 5.0), gallery, np.full(50, 20.0), top_n=1)
    assert not ranking.identified and ranking.reason is DecisionReason.NO_MATCH
    assert ranking.unknown_probability > 0.9


def test_a_short_probe_nobody_could_name_among_many_is_too_little_speech(rng):
    """Half a second names an ordinary owner among 2 profiles but not among 80: there the
    honest answer is "too little speech", with how much would do."""
    scorer = Scorer(POINT)
    stranger = Probe(unit(rng)[0], 0.45)
    small = scorer.identify(stranger, unit(rng, 2), np.full(2, 20.0), top_n=1)
    large = scorer.identify(stranger, unit(rng, 80), np.full(80, 20.0), top_n=1)
    assert small.reason is DecisionReason.NO_MATCH
    assert large.reason is DecisionReason.INSUFFICIENT_SPEECH and not large.identified
    assert large.speech_needed_seconds is not None and large.speech_needed_seconds > 0.45
    longer = scorer.identify(
        Probe(stranger.embedding, 5.0), unit(rng, 80), np.full(80, 20.0), top_n=1
    )
    assert longer.reason is DecisionReason.NO_MATCH


def test_the_speech_needed_grows_with_the_gallery_and_a_clear_owner_is_still_named(rng):
    scorer = Scorer(POINT)
    probe = Probe(unit(rng)[0], 0.45)
    needed = [
        scorer.speech_needed(probe, gallery_size=n, enrol_seconds=20.0) for n in (2, 80, 1000)
    ]
    assert needed[0] == POINT.min_speech_seconds
    assert needed[0] < needed[1] < needed[2]
    gallery = unit(rng, 80)
    owner = scorer.identify(
        Probe(near(gallery[3], 0.8, rng), 0.45), gallery, np.full(80, 20.0), top_n=1
    )
    assert owner.identified and owner.speech_needed_seconds is None


def test_no_speech_needed_is_claimed_by_a_model_that_ignores_durations(rng):
    fitted = OperatingPoint(
        models={band: LogisticModel(10.0, -4.0) for band in Band},
        source=ThresholdSource(SourceKind.CALIBRATED, "test"),
    )
    ranking = Scorer(fitted).identify(
        Probe(unit(rng)[0], 0.45), unit(rng, 80), np.full(80, 20.0), top_n=1
    )
    assert ranking.reason is DecisionReason.NO_MATCH and ranking.speech_needed_seconds is None


def test_an_empty_gallery_answers_unknown(rng):
    ranking = Scorer(POINT).identify(Probe(unit(rng)[0], 5.0), np.zeros((0, DIM)), [], top_n=5)
    assert ranking.candidates == () and not ranking.identified
    assert ranking.unknown_probability == 1.0


def test_a_narrowband_probe_is_scored_with_the_narrowband_model(rng):
    strict = ConditionModel(ImpostorScores(0.5, 0.1), MODEL.targets, MODEL.shrink_seconds)
    point = OperatingPoint(
        models={Band.WIDE: MODEL, Band.NARROW: strict},
        source=ThresholdSource(SourceKind.PRIOR, "test"),
    )
    voiceprint = unit(rng)[0]
    vector = near(voiceprint, 0.6, rng)
    wide = Scorer(point).verify(Probe(vector, 5.0, 7800.0), voiceprint, 20.0)
    narrow = Scorer(point).verify(Probe(vector, 5.0, 3900.0), voiceprint, 20.0)
    assert wide.decision is Decision.ACCEPT and narrow.decision is Decision.REJECT


def test_a_noisy_probe_needs_a_lower_cosine_than_a_clean_one(rng):
    noisy_model = ConditionModel(
        MODEL.impostors,
        TargetScores(0.92, 0.08, 0.035, noise_scale=1.4),
        MODEL.shrink_seconds,
    )
    point = OperatingPoint(
        models={band: noisy_model for band in Band},
        source=ThresholdSource(SourceKind.PRIOR, "test"),
    )
    voiceprint = unit(rng)[0]
    vector = near(voiceprint, 0.44, rng)
    clean = Scorer(point).verify(Probe(vector, 3.0, 7800.0, 35.0), voiceprint, 20.0)
    noisy = Scorer(point).verify(Probe(vector, 3.0, 7800.0, 3.0), voiceprint, 20.0)
    assert clean.decision is Decision.REJECT and noisy.decision is Decision.ACCEPT
    assert noisy.cosine_threshold is not None and clean.cosine_threshold is not None
    assert noisy.cosine_threshold < 0.44 < clean.cosine_threshold


def test_a_probe_of_an_utterance_keeps_its_speech_bandwidth_and_snr(rng):
    from voxprint.pipeline import Utterance
    from voxprint.vad import SpeechSegments

    utterance = Utterance(
        unit(rng)[0], 4.0, 3.0, SpeechSegments((), 16000, 64000), 0.0, 3900.0, 7.5
    )
    probe = Probe.of(utterance)
    assert (probe.net_speech_seconds, probe.bandwidth_hz, probe.snr_db) == (3.0, 3900.0, 7.5)


def test_compare_treats_the_second_recording_as_the_enrolled_side(rng):
    a = unit(rng)[0]
    b = near(a, 0.8, rng)
    verdict = Scorer(POINT).compare(Probe(a, 5.0), Probe(b, 5.0))
    assert verdict.decision is Decision.ACCEPT and verdict.cosine == pytest.approx(0.8, abs=1e-5)


def test_an_as_norm_operating_point_needs_a_cohort():
    logistic = LogisticModel(1.0, 0.0)
    point = OperatingPoint(
        models={band: logistic for band in Band},
        source=ThresholdSource(SourceKind.CALIBRATED, "test"),
        normalized=True,
    )
    with pytest.raises(InvalidParameterError, match="cohort"):
        Scorer(point)
    with pytest.raises(InvalidParameterError):
        Scorer(POINT).identify(
            Probe(np.ones(DIM, np.float32), 1.0), np.ones((1, DIM)), [1.0], top_n=0
        )


TELEPHONE = ConditionModel(
    ImpostorScores(0.4, 0.1), TargetScores(0.92, 0.08, 0.035), shrink_seconds=0.84
)
#: Strangers score higher on the telephone; the namespace's enrolments are all wideband.
BANDED = OperatingPoint(
    models={Band.WIDE: MODEL, Band.NARROW: TELEPHONE},
    source=ThresholdSource(SourceKind.PRIOR, "test"),
    gallery_band=Band.WIDE,
)


def test_a_telephone_probe_is_judged_as_wideband_only_against_a_wideband_gallery(rng):
    voiceprint = unit(rng)[0]
    probe = Probe(near(voiceprint, 0.55, rng), 5.0, bandwidth_hz=3400.0)
    against_app_profiles = Scorer(BANDED).verify(probe, voiceprint, 20.0)
    unknown_gallery = Scorer(replace(BANDED, gallery_band=None))
    assert against_app_profiles.score > unknown_gallery.verify(probe, voiceprint, 20.0).score


def test_compare_judges_two_telephone_recordings_as_telephone_whatever_the_gallery(rng):
    """Two recordings compared involve no profile: their own bands pick the model."""
    first = unit(rng)[0]
    a = Probe(near(first, 0.55, rng), 5.0, bandwidth_hz=3400.0)
    b = Probe(first, 5.0, bandwidth_hz=3400.0)
    telephone_pair = Scorer(BANDED).compare(a, b)
    as_telephone = Scorer(BANDED).verify(a, b.embedding, 5.0, band=Band.NARROW)
    assert telephone_pair.score == pytest.approx(as_telephone.score)
    assert telephone_pair.decision is Decision.REJECT  # a stranger pair on the telephone
    wide_b = Probe(first, 5.0, bandwidth_hz=7600.0)
    assert Scorer(BANDED).compare(a, wide_b).score > telephone_pair.score


def test_identify_scores_each_voiceprint_with_the_model_of_its_own_enrolment_band(rng):
    """A telephone probe against a mixed gallery: the app-enrolled voiceprint is judged
    with the wideband model and the telephone-enrolled one with the narrowband model,
    exactly as claims on each would be."""
    gallery = unit(rng, 2)
    probe = Probe(near(gallery[0], 0.5, rng), 5.0, bandwidth_hz=3400.0)
    scorer = Scorer(replace(BANDED, gallery_band=None))
    ranking = scorer.identify(
        probe, gallery, np.array([20.0, 20.0]), top_n=2, bands=[Band.WIDE, Band.NARROW]
    )
    llrs = {c.index: c.llr for c in ranking.candidates}
    assert llrs[0] == pytest.approx(scorer.verify(probe, gallery[0], 20.0, band=Band.WIDE).llr)
    assert llrs[1] == pytest.approx(scorer.verify(probe, gallery[1], 20.0, band=Band.NARROW).llr)
    unknown = scorer.identify(probe, gallery, np.array([20.0, 20.0]), top_n=2, bands=[None, None])
    as_probe = {c.index: c.llr for c in unknown.candidates}
    assert as_probe[0] == pytest.approx(scorer.verify(probe, gallery[0], 20.0).llr)
    assert as_probe[0] < llrs[0]  # the narrowband model is the stricter one


def test_identify_judges_telephone_enrolments_with_the_wideband_probes_telephone_copy(rng):
    """The copy scores the telephone-enrolled voiceprint (its cosine, the narrowband
    model, its speech), as a claim on that profile with the copy would; the app-enrolled
    voiceprint is scored with the probe itself."""
    gallery = unit(rng, 2)
    probe = Probe(near(gallery[0], 0.7, rng), 5.0, bandwidth_hz=7600.0)
    copy = Probe(near(gallery[1], 0.8, rng), 4.5, bandwidth_hz=3600.0)
    scorer = Scorer(replace(BANDED, gallery_band=None))
    bands = [Band.WIDE, Band.NARROW]
    ranking = scorer.identify(
        probe, gallery, np.array([20.0, 20.0]), top_n=2, bands=bands, telephone=(copy, [0, 1])
    )
    by_index = {c.index: c for c in ranking.candidates}
    assert by_index[1].cosine == pytest.approx(float(copy.embedding @ gallery[1]), abs=1e-6)
    on_phone = scorer.verify(copy, gallery[1], 20.0, band=Band.NARROW)
    assert by_index[1].llr == pytest.approx(on_phone.llr)
    on_app = scorer.verify(probe, gallery[0], 20.0, band=Band.WIDE)
    assert by_index[0].llr == pytest.approx(on_app.llr)
    without = scorer.identify(probe, gallery, np.array([20.0, 20.0]), top_n=2, bands=bands)
    assert {c.index: c.llr for c in without.candidates}[0] == pytest.approx(on_app.llr)
    assert {c.index: c.cosine for c in without.candidates}[1] != pytest.approx(by_index[1].cosine)
    with pytest.raises(InvalidParameterError, match="1 copy flags given for 2 voiceprints"):
        scorer.identify(probe, gallery, np.ones(2), top_n=1, telephone=(copy, [True]))


def test_identify_refuses_bands_that_do_not_match_the_voiceprints(rng):
    with pytest.raises(InvalidParameterError, match="2 bands given for 3 voiceprints"):
        Scorer(BANDED).identify(
            Probe(unit(rng)[0], 5.0), unit(rng, 3), np.ones(3), top_n=1, bands=[None, None]
        )


GUARDED = replace(POINT, standout_margin=0.15, standout_others=5)


def crowd(rng, count, cosine, around):
    """``count`` voiceprints each at ``cosine`` to ``around``."""
    return np.stack([near(around, cosine, rng) for _ in range(count)])


def test_a_voice_as_close_to_several_profiles_as_to_its_best_is_named_nobody(rng):
    """A model whose strangers' level was pulled down (as crafted profiles pull it)
    scores a stranger high against every real profile; the best does not stand out from
    the next five, so nobody is named, while an owner who stands out is."""
    stranger = unit(rng)[0]
    gallery = np.concatenate(
        [crowd(rng, 1, 0.8, stranger), crowd(rng, 5, 0.68, stranger), unit(rng, 30)]
    )
    seconds = np.full(len(gallery), 20.0)
    crowded = Scorer(GUARDED).identify(Probe(stranger, 5.0), gallery, seconds, top_n=1)
    assert crowded.candidates[0].index == 0
    assert crowded.candidates[0].score >= GUARDED.identification_threshold
    assert not crowded.identified and crowded.reason is DecisionReason.LOOK_ALIKE
    assert Scorer(POINT).identify(Probe(stranger, 5.0), gallery, seconds, top_n=1).identified
    owner = near(gallery[3], 0.9, rng)
    named = Scorer(GUARDED).identify(Probe(owner, 5.0), gallery, seconds, top_n=1)
    assert named.identified and named.candidates[0].index == 3


def test_a_voice_no_closer_to_a_profile_than_that_profiles_neighbours_is_named_nobody(rng):
    """The guard from the named profile's side: a stranger who lands beside one real
    profile stands out from the other profiles near the probe, but scores no higher with
    that profile than the profile's own enrolled neighbours do; its owner scores far
    above them. Profiles added far away never count among those neighbours."""
    profile = unit(rng)[0]
    neighbours = crowd(rng, 5, 0.7, profile)  # close to the profile, not to the stranger
    gallery = np.concatenate([[profile], neighbours, unit(rng, 30)])
    seconds = np.full(len(gallery), 20.0)
    stranger = near(profile, 0.72, rng)
    guarded = replace(GUARDED, neighbour_margin=0.1)
    only_probe_side = Scorer(GUARDED).identify(Probe(stranger, 5.0), gallery, seconds, top_n=1)
    assert only_probe_side.identified and only_probe_side.candidates[0].index == 0
    both = Scorer(guarded).identify(Probe(stranger, 5.0), gallery, seconds, top_n=1)
    assert both.candidates[0].index == 0
    assert (both.identified, both.reason) == (False, DecisionReason.LOOK_ALIKE)
    crafted = unit(rng, 500)  # far from everyone: the neighbours stay the same
    padded = np.concatenate([gallery, crafted])
    again = Scorer(guarded).identify(
        Probe(stranger, 5.0), padded, np.full(len(padded), 20.0), top_n=1
    )
    assert not again.identified and again.reason is DecisionReason.LOOK_ALIKE
    owner = near(profile, 0.92, rng)
    named = Scorer(guarded).identify(Probe(owner, 5.0), gallery, seconds, top_n=1)
    assert named.identified and named.candidates[0].index == 0
    alone = replace(POINT, neighbour_margin=0.1)  # without the probe-side guard too
    assert not Scorer(alone).identify(Probe(stranger, 5.0), gallery, seconds, top_n=1).identified


def test_a_claim_no_closer_to_the_profile_than_its_neighbours_is_rejected_as_a_look_alike(rng):
    """Verification's neighbour guard: the same bar as identify's, read from the
    claimed profile's nearest other profiles (found among the neighbours given). A
    stranger beside the claimed voice is refused; its owner, far above the neighbours,
    is accepted; without neighbours, or with too few of them, the score decides."""
    profile = unit(rng)[0]
    close = crowd(rng, 5, 0.7, profile)
    pool = np.concatenate([close, unit(rng, 30)])
    neighbours = Rivals(pool, np.full(len(pool), 20.0))
    guarded = Scorer(replace(POINT, verify_neighbour_margin=0.1))
    stranger = Probe(near(profile, 0.72, rng), 5.0)
    plain = guarded.verify(stranger, profile, 20.0)
    assert plain.decision is Decision.ACCEPT
    refused = guarded.verify(stranger, profile, 20.0, neighbours=neighbours)
    assert (refused.decision, refused.reason) == (Decision.REJECT, DecisionReason.LOOK_ALIKE)
    assert refused.score == plain.score  # the score stays what it is; the decision says why
    owner = guarded.verify(
        Probe(near(profile, 0.92, rng), 5.0), profile, 20.0, neighbours=neighbours
    )
    assert owner.decision is Decision.ACCEPT
    few = Rivals(close[:4], np.full(4, 20.0))
    assert guarded.verify(stranger, profile, 20.0, neighbours=few).decision is Decision.ACCEPT
    unguarded = Scorer(POINT).verify(stranger, profile, 20.0, neighbours=neighbours)
    assert unguarded.decision is Decision.ACCEPT
    identify_only = Scorer(replace(POINT, neighbour_margin=0.1))  # identify's own margin
    assert identify_only.verify(stranger, profile, 20.0, neighbours=neighbours).decision is (
        Decision.ACCEPT
    )


def test_the_verify_neighbour_guard_compares_only_neighbours_on_the_claims_scale(rng):
    """Neighbours enrolled in another band than the claim's pair band do not count:
    five close ones in the other band leave too few on the claim's scale to tell."""
    profile = unit(rng)[0]
    close = crowd(rng, 5, 0.7, profile)
    other_band = Rivals(close, np.full(5, 20.0), bands=[Band.NARROW] * 5)
    banded = Scorer(replace(BANDED, verify_neighbour_margin=0.1))
    stranger = Probe(near(profile, 0.72, rng), 5.0, bandwidth_hz=3400.0)
    claim = banded.verify(stranger, profile, 20.0, band=Band.WIDE, neighbours=other_band)
    same = Rivals(close, np.full(5, 20.0), bands=[Band.WIDE] * 5)
    judged = banded.verify(stranger, profile, 20.0, band=Band.WIDE, neighbours=same)
    assert (claim.decision, claim.reason) == (Decision.ACCEPT, DecisionReason.MATCH)
    assert judged.reason is DecisionReason.LOOK_ALIKE


def test_a_claim_is_decided_by_its_score_and_rivals_not_by_standing_out(rng):
    """Verification weighs the same voices through its rivals; the standout guard is
    identification's alone (on verify it refused owners a score would accept)."""
    stranger = unit(rng)[0]
    claimed, others = near(stranger, 0.8, rng), crowd(rng, 5, 0.68, stranger)
    rivals = Rivals(others, np.full(5, 20.0), others=500)
    guarded = Scorer(GUARDED).verify(Probe(stranger, 5.0), claimed, 20.0, rivals=rivals)
    plain = Scorer(POINT).verify(Probe(stranger, 5.0), claimed, 20.0, rivals=rivals)
    assert (guarded.decision, guarded.reason, guarded.score) == (
        plain.decision,
        plain.reason,
        plain.score,
    )


def test_in_identification_a_voice_stands_out_only_among_candidates_scored_on_its_own_scale(rng):
    """A telephone call scores higher with telephone-enrolled strangers (same channel)
    than with its app-enrolled owner: those candidates are judged in another band and do
    not count in the owner's standout."""
    probe = unit(rng)[0]
    owner = near(probe, 0.8, rng)
    gallery = np.concatenate([[owner], crowd(rng, 5, 0.7, probe), unit(rng, 10)])
    seconds = np.full(len(gallery), 20.0)
    narrow = Probe(probe, 5.0, bandwidth_hz=3400.0)
    across = [Band.WIDE] + [Band.NARROW] * 5 + [Band.WIDE] * 10
    named = Scorer(GUARDED).identify(narrow, gallery, seconds, top_n=1, bands=across, sides=across)
    assert named.candidates[0].index == 0 and named.identified
    within = [Band.WIDE] * len(gallery)
    alike = Scorer(GUARDED).identify(narrow, gallery, seconds, top_n=1, bands=within, sides=within)
    assert alike.candidates[0].index == 0
    assert (alike.identified, alike.reason) == (False, DecisionReason.LOOK_ALIKE)
