"""The decision benchmark's machinery, on synthetic embeddings with known answers."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voxprint.adaptation import band_of, pair_band
from voxprint.evaluation.datasets import AudioItem
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    Tally,
    _answer_gallery,
    best_threshold_named,
    domain_trials,
    evaluate_domain,
    expected_calibration_error,
    fit_prior,
    gallery_operating_point,
    gallery_profiles,
    reliability,
)
from voxprint.evaluation.domains import OpenSetDomain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Rivals, Scorer
from voxprint.scoring.similarity import l2_normalise

DIM = 192  # CAM++'s: the campplus prior centres embeddings of its dimension


def synthetic(rng, speakers=12, clips=6, spread=0.25, seconds=5.0, bandwidth=7800.0, snr_db=None):
    """A domain of well separated synthetic speakers: 8 enrollable, 4 never enrolled."""
    items, keys, vectors = [], [], []
    enrolment, probes = {}, []
    for s in range(speakers):
        name = f"s{s:02d}"
        voice = l2_normalise(rng.normal(size=DIM))
        for c in range(clips):
            key = f"{name}/{c}"
            items.append(AudioItem(key, name, Path(f"{key}.wav")))
            keys.append(key)
            vectors.append(l2_normalise(voice + spread * l2_normalise(rng.normal(size=DIM))))
        if s < 8:
            enrolment[name] = tuple(f"{name}/{c}" for c in range(2))
            probes += [f"{name}/{c}" for c in range(2, clips)]
        else:
            probes += [f"{name}/{c}" for c in range(clips)]
    domain = OpenSetDomain("synthetic", "synthetic", tuple(items), enrolment, tuple(probes))
    n = len(keys)
    embedded = EmbeddedDomain(
        tuple(keys),
        np.stack(vectors).astype(np.float32),
        np.full(n, seconds),
        np.full(n, bandwidth),
        None if snr_db is None else np.asarray(snr_db(keys), dtype=np.float64),
    )
    return domain, embedded


def test_well_separated_speakers_are_named_and_strangers_answered_unknown(rng):
    domain, embedded = synthetic(rng)
    results = evaluate_domain(domain, embedded, DEFAULT_PRIORS["campplus"], sizes=(2, 0))
    assert [r.gallery_size for r in results] == [2, 8]
    for r in results:
        assert r.unknown_rejected == 1.0 and r.named == 1.0 and r.wrong == 0.0
        assert r.far == 0.0 and r.frr == 0.0
        assert r.confident_precision == 1.0
    everyone = results[-1]
    assert everyone.known == 8 * 4 and everyone.unknown == 4 * 6 and everyone.draws == 1


def test_probes_with_too_little_speech_are_counted_apart(rng):
    domain, embedded = synthetic(rng, seconds=0.1)
    (result,) = evaluate_domain(domain, embedded, DEFAULT_PRIORS["campplus"], sizes=(0,))
    assert result.insufficient == 1.0 and result.named == 0.0 and result.wrong == 0.0
    assert result.unknown_rejected == 1.0


def test_sizes_at_or_above_the_enrollable_speakers_collapse_into_all(rng):
    domain, embedded = synthetic(rng)
    results = evaluate_domain(domain, embedded, DEFAULT_PRIORS["campplus"], sizes=(2, 10, 0))
    assert [r.gallery_size for r in results] == [2, 8]


def test_expected_calibration_error_is_zero_for_honest_scores_and_large_for_overconfident():
    labels = np.array([True] * 50 + [False] * 50)
    honest = np.where(labels, 1.0, 0.0)
    assert expected_calibration_error(honest, labels) == pytest.approx(0.0)
    overconfident = np.full(100, 0.99)
    assert expected_calibration_error(overconfident, labels) == pytest.approx(0.49)
    assert np.isnan(expected_calibration_error(np.ones(3), np.ones(3, dtype=bool)))
    assert sum(row[2] for row in reliability(overconfident, labels)) == pytest.approx(1.0)


def test_a_prior_fitted_on_synthetic_domains_sees_their_impostor_level(rng):
    domain, embedded = synthetic(rng)
    narrow_domain, narrow = synthetic(rng, bandwidth=3900.0)
    prior = fit_prior(
        [domain_trials(domain, embedded), domain_trials(narrow_domain, narrow)],
        source="synthetic",
        base=DEFAULT_PRIORS["campplus"],
    )
    assert abs(prior.impostors[next(iter(prior.impostors))].mean) < 0.2
    assert prior.verification_threshold == DEFAULT_PRIORS["campplus"].verification_threshold
    assert 0.8 < prior.targets.ceiling <= 1.0


def test_a_fitted_prior_learns_that_noisy_probes_score_lower_with_their_owner(rng):
    """Half the probes of one domain are pulled towards random directions (as noise
    does) and read a low level SNR; the fit finds a noise term that expects it."""
    clean_domain, clean = synthetic(rng, snr_db=lambda keys: np.full(len(keys), 40.0))
    domain, embedded = synthetic(rng, snr_db=lambda keys: np.full(len(keys), 40.0))
    noisy_rows = [i for i, k in enumerate(embedded.keys) if int(k.split("/")[1]) >= 4]
    vectors = embedded.embeddings.copy()
    vectors[noisy_rows] = l2_normalise(
        vectors[noisy_rows] + 0.9 * l2_normalise(rng.normal(size=(len(noisy_rows), DIM)))
    )
    snr = embedded.snr_db.copy()
    snr[noisy_rows] = 2.0
    noisy = EmbeddedDomain(embedded.keys, vectors, embedded.seconds, embedded.bandwidth_hz, snr)
    prior = fit_prior(
        [domain_trials(clean_domain, clean), domain_trials(domain, noisy)], source="synthetic"
    )
    assert prior.targets.noise_scale > 0.3
    model = prior.operating_point().model(next(iter(prior.impostors)))
    assert model.target_mean(5.0, 10.0, 2.0) < model.target_mean(5.0, 10.0, 40.0) - 0.1


def test_a_fitted_prior_finds_the_speech_the_detector_missed(rng):
    """Owners' cosines shrink as if every clip held 0.4 s more speech than measured (as
    on short words, whose soft edges the detector misses and the encoder hears): the fit
    finds that offset, and its model expects the 0.1 s probes' real cosines."""
    k, missed = 1.0, 0.4
    measured = (0.1, 0.2, 0.5, 1.0, 3.0, 10.0)
    items, keys, vectors, seconds = [], [], [], []
    enrolment, probes = {}, []
    for s in range(12):
        name = f"s{s:02d}"
        voice = l2_normalise(rng.normal(size=DIM))
        clips = [60.0, 60.0, *measured] if s < 8 else list(measured)
        for c, d in enumerate(clips):
            key = f"{name}/{c}"
            # Noise at right angles to the voice: the cosine is exactly 1 / sqrt(1 + a^2).
            direction = rng.normal(size=DIM)
            direction = l2_normalise(direction - (direction @ voice) * voice)
            vector = l2_normalise(voice + math.sqrt(k / (d + missed)) * direction)
            items.append(AudioItem(key, name, Path(f"{key}.wav")))
            keys.append(key)
            vectors.append(vector)
            seconds.append(d)
        first = 2 if s < 8 else 0
        if s < 8:
            enrolment[name] = (f"{name}/0", f"{name}/1")
        probes += [f"{name}/{c}" for c in range(first, len(clips))]
    domain = OpenSetDomain("short", "short", tuple(items), enrolment, tuple(probes))
    embedded = EmbeddedDomain(
        tuple(keys),
        np.stack(vectors).astype(np.float32),
        np.array(seconds),
        np.full(len(keys), 7800.0),
    )
    trials = domain_trials(domain, embedded)
    prior = fit_prior([trials], source="synthetic")
    assert 0.3 < prior.speech_offset < 0.6
    model = prior.operating_point().model(next(iter(prior.impostors)))
    shortest = trials.target_probe_seconds == 0.1
    observed = float(trials.target_scores[shortest].mean())
    expected = float(model.target_mean(0.1, float(trials.target_enrol_seconds[0])))
    assert expected == pytest.approx(observed, abs=0.08)


def test_a_probe_row_carries_its_level_snr_and_nan_reads_as_unmeasured(rng):
    _, embedded = synthetic(rng, snr_db=lambda keys: [np.nan, *([12.0] * (len(keys) - 1))])
    assert embedded.probe(0).snr_db is None
    assert embedded.probe(1).snr_db == 12.0
    _, without = synthetic(rng)
    assert without.probe(0).snr_db is None


def test_the_best_threshold_names_what_the_scores_allow_at_95_percent_rejection():
    strangers = [0.1] * 19 + [0.9]  # one stranger in 20 may be named
    known = [(0.95, True), (0.85, True), (0.5, True), (0.99, False)]
    # The bar sits at the highest stranger that must stay unknown (0.1): every owner
    # above it counts, a wrong best candidate never does.
    assert best_threshold_named(known, strangers) == pytest.approx(3 / 4)
    # Asking every stranger to stay unknown puts the bar at 0.9.
    assert best_threshold_named(known, strangers, rejection=1.0) == pytest.approx(1 / 4)
    assert math.isnan(best_threshold_named([], strangers))
    assert best_threshold_named(known, []) == pytest.approx(3 / 4)


def test_each_domain_result_reports_the_best_threshold_next_to_the_default(rng):
    domain, embedded = synthetic(rng)
    for result in evaluate_domain(domain, embedded, DEFAULT_PRIORS["campplus"], draws=2):
        # The default rejects at least 95 % of strangers here, so no threshold that
        # does the same can name fewer than it does.
        assert result.unknown_rejected >= 0.95
        assert result.best_threshold_named >= result.named - 1e-9


def mixed_bands(rng, speakers=16, clips=6, lift=2.0):
    """Every other speaker recorded in the narrow band, sharing a telephone channel's
    component; 12 enrollable (6 of each band), 4 never enrolled."""
    channel = l2_normalise(rng.normal(size=DIM))
    items, keys, vectors, bandwidths = [], [], [], []
    enrolment, probes = {}, []
    for s in range(speakers):
        name, narrow = f"s{s:02d}", s % 2 == 1
        voice = l2_normalise(rng.normal(size=DIM))
        for c in range(clips):
            key = f"{name}/{c}"
            items.append(AudioItem(key, name, Path(f"{key}.wav")))
            keys.append(key)
            clip = voice + l2_normalise(rng.normal(size=DIM)) + (lift * channel if narrow else 0)
            vectors.append(l2_normalise(clip))
            bandwidths.append(3400.0 if narrow else 7800.0)
        if s < 12:
            enrolment[name] = tuple(f"{name}/{c}" for c in range(2))
            probes += [f"{name}/{c}" for c in range(2, clips)]
        else:
            probes += [f"{name}/{c}" for c in range(clips)]
    domain = OpenSetDomain("mixed", "synthetic", tuple(items), enrolment, tuple(probes))
    n = len(keys)
    embedded = EmbeddedDomain(
        tuple(keys),
        np.stack(vectors).astype(np.float32),
        np.full(n, 5.0),
        np.array(bandwidths),
        None,
    )
    return domain, embedded


def test_a_namespace_mixing_bands_is_scored_with_each_side_on_its_band_as_the_service_does(rng):
    domain, embedded = mixed_bands(rng)
    prior = DEFAULT_PRIORS["campplus"]
    gallery = list(domain.enrollable)
    tally = Tally()
    _answer_gallery(domain, embedded, prior, gallery, [], tally, adapt=True, rival_weight=1.0)

    profiles, seconds = gallery_profiles(domain, embedded, gallery)
    point = gallery_operating_point(prior, profiles)
    assert point.band_centres is not None  # the namespace mixes bands
    scorer = Scorer(replace(point, rival_weight=1.0))
    voiceprints = np.stack([p.voiceprint for p in profiles])
    sides = [p.statistics_band() for p in profiles]
    bands = [p.band() for p in profiles]
    first = next(k for k in domain.probes if domain.speaker_of[k] == gallery[1])  # narrow
    probe = embedded.probe(int(embedded.rows([first])[0]))
    ranking = scorer.identify(probe, voiceprints, seconds, top_n=1, bands=bands, sides=sides)
    position = [k for k in domain.probes if domain.speaker_of[k] in gallery].index(first)
    assert tally.known_best[position][0] == pytest.approx(ranking.candidates[0].score)
    others = np.arange(len(gallery)) != 1
    rivals = Rivals(
        voiceprints[others],
        seconds[others],
        [b for b, o in zip(bands, others, strict=True) if o],
        sides=[s for s, o in zip(sides, others, strict=True) if o],
    )
    band = pair_band(band_of(probe.bandwidth_hz), bands[1])
    claim = scorer.verify(
        probe, voiceprints[1], float(seconds[1]), band=band, rivals=rivals, side=sides[1]
    )
    assert tally.scores[2 * position] == pytest.approx(claim.score)  # the owner's own claim
