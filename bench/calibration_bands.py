"""A user's calibration fitted on wideband trials, and the claims of every domain after it.

Usage:
    .venv/bin/python bench/calibration_bands.py [--far 0.01] [--calibrate-on tc100-halves]

What a user does with ``voxprint calibrate``: a trial list of their own wideband
recordings (here every enrolment clip of ``--calibrate-on`` against every probe of an
enrolled speaker: file against file, raw cosines, as the command scores them), fitted
for ``--far`` false accepts. Then every domain is answered with all its enrollable
speakers enrolled (embeddings from bench/decision_cache.py), two ways:

* **calibration decides every claim**: what voxprint did before 2026-12-07;
* **calibration decides its own band**: the service's rule now
  (``StoredCalibration.covers`` of each claim's pair band; the other band's claims get
  the shipped prior adapted to the gallery, as without a calibration).

Per domain: owners named, strangers answered "unknown", verify FRR and FAR (each probe
against its own profile and against the next one), and the ECE of the verify scores.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from decision_cache import embedded_domain
from machine import header
from voxprint.adaptation import Band, band_of, pair_band, telephone_copy_helps
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.calibrator import fit_scale
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    expected_calibration_error,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import OpenSetDomain, build_domain
from voxprint.operating_points import DEFAULT_PRIORS, calibrated_operating_point
from voxprint.scorer import Scorer
from voxprint.scoring.similarity import cosine_matrix
from voxprint.settings import default_data_root
from voxprint.store.records import ScoreScale, StoredCalibration

DOMAINS = (
    "tc100-halves",
    "test-other",
    "noise-5dB",
    "speechocean762",
    "speechcommands",
    "ami",
    "tel-8k",
    "fsdd",
    "fsdd-pin",
)


def wideband_calibration(
    domain: OpenSetDomain, embedded: EmbeddedDomain, far: float, version: str
) -> StoredCalibration:
    """What ``voxprint calibrate`` stores for trials of ``domain``: every enrolment clip
    against every probe of an enrolled speaker, file against file."""
    enrol_keys = [k for s in domain.enrollable for k in domain.enrolment[s]]
    probe_keys = [k for k in domain.probes if domain.speaker_of[k] in domain.enrolment]
    enrol = embedded.embeddings[embedded.rows(enrol_keys)]
    probes = embedded.embeddings[embedded.rows(probe_keys)]
    cosines = cosine_matrix(enrol, probes).astype(np.float64)
    same = np.array(
        [[domain.speaker_of[e] == domain.speaker_of[p] for p in probe_keys] for e in enrol_keys]
    )
    bandwidths = np.concatenate(
        [
            embedded.bandwidth_hz[embedded.rows(enrol_keys)],
            embedded.bandwidth_hz[embedded.rows(probe_keys)],
        ]
    )
    bands = frozenset(band_of(float(b)) for b in bandwidths)
    assert bands == {Band.WIDE}, "the calibration trials must be wideband"
    fitted = fit_scale(
        cosines[same],
        cosines[~same],
        false_accept_rate=far,
        encoder_name="campplus",
        encoder_version=version,
        scale=ScoreScale.COSINE,
        source=f"{domain.name} trials",
        bands=bands,
    )
    print(
        f"calibration on {domain.name}: {int(same.sum())} same-speaker and "
        f"{int((~same).sum())} different-speaker trials; threshold cosine "
        f"{fitted.calibration.threshold:.3f} (FAR {100 * fitted.calibration.achieved_far:.2f} %, "
        f"FRR {100 * fitted.calibration.achieved_frr:.2f} %), "
        f"bands {sorted(b.value for b in bands)}"
    )
    return fitted.calibration


def answer(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    scorer_for: Callable[[Band], Scorer],
    gallery: Band | None,
) -> tuple[str, str]:
    """The domain's row cells, and which point decided (``calibrated``/``adapted``)."""
    profiles, seconds = gallery_profiles(domain, embedded, domain.enrollable)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    own_bands = [p.band() for p in profiles]
    known = named = strangers = refused = claims = accepted = owners = rejected = 0
    scores: list[float] = []
    truths: list[bool] = []
    deciders: set[str] = set()
    for key in domain.probes:
        probe = embedded.probe(int(embedded.rows([key])[0]))
        probe_band = band_of(probe.bandwidth_hz)
        identify = scorer_for(pair_band(probe_band, gallery))
        deciders.add(identify.point.source.kind.value)
        ranking = identify.identify(probe, voiceprints, seconds, top_n=1)
        speaker = domain.speaker_of[key]
        if speaker not in domain.enrolment:
            strangers += 1
            refused += not ranking.identified
            continue
        own = domain.enrollable.index(speaker)
        known += 1
        named += ranking.identified and ranking.candidates[0].index == own
        for index, is_owner in ((own, True), ((own + 1) % len(profiles), False)):
            scorer = scorer_for(pair_band(probe_band, own_bands[index]))
            verdict = scorer.verify(probe, voiceprints[index], float(seconds[index]))
            ok = verdict.decision.value == "accept"
            if is_owner:
                owners += 1
                rejected += not ok
            else:
                claims += 1
                accepted += ok
            scores.append(verdict.score)
            truths.append(is_owner)
    ece = expected_calibration_error(np.array(scores), np.array(truths))
    cells = (
        f"{100 * named / known:.1f} % | {100 * refused / max(strangers, 1):.1f} % | "
        f"{100 * rejected / owners:.1f} % | {100 * accepted / claims:.1f} % | {ece:.3f}"
    )
    return cells, "+".join(sorted(deciders))


def app_probes_among_telephone_enrolments(
    root, pipeline, calibrated: Scorer, calibration: StoredCalibration
) -> None:
    """Every ``tel-8k`` speaker enrolled from telephone clips; the same utterances'
    16 kHz originals (``tc100-halves``) identified, each judged as its telephone copy
    against them (the service's rule): narrowband pairs."""
    phone = build_domain("tel-8k", root)
    wide = build_domain("tc100-halves", root)
    phone_embedded, wide_embedded = (
        embedded_domain(phone, pipeline),
        embedded_domain(wide, pipeline),
    )
    profiles, seconds = gallery_profiles(phone, phone_embedded, phone.enrollable)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    clean = [p.statistics_band() for p in profiles]
    adapted = Scorer(gallery_operating_point(DEFAULT_PRIORS["campplus"], profiles))
    print(
        "\n| 16 kHz probes among telephone enrolments | decided by | owners named | "
        "strangers unknown |\n|---|---|---|---|"
    )
    for rule in ("calibration decides every claim", "calibration decides its own band"):
        known = named = strangers = refused = 0
        deciders: set[str] = set()
        for key in wide.probes:
            probe = wide_embedded.probe(int(wide_embedded.rows([key])[0]))
            twin = phone_embedded.probe(int(phone_embedded.rows([key])[0]))
            copied = [telephone_copy_helps(band_of(probe.bandwidth_hz), c) for c in clean]
            scored = {Band.NARROW if c else Band.WIDE for c in copied}
            own_band = all(calibration.covers(b) for b in scored)
            scorer = calibrated if rule.endswith("every claim") or own_band else adapted
            deciders.add(scorer.point.source.kind.value)
            ranking = scorer.identify(
                probe, voiceprints, seconds, top_n=1, telephone=(twin, copied)
            )
            speaker = wide.speaker_of[key]
            if speaker in phone.enrolment:
                known += 1
                own = phone.enrollable.index(speaker)
                named += ranking.identified and ranking.candidates[0].index == own
            else:
                strangers += 1
                refused += not ranking.identified
        print(
            f"| {rule} | {'+'.join(sorted(deciders))} | {100 * named / known:.1f} % | "
            f"{100 * refused / strangers:.1f} % |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--far", type=float, default=0.01)
    parser.add_argument("--calibrate-on", default="tc100-halves")
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS))
    args = parser.parse_args()
    root = default_data_root()
    pipeline = build_pipeline(ServiceOptions())
    print(header())
    print(f"encoder {pipeline.encoder.version}")
    base = build_domain(args.calibrate_on, root)
    calibration = wideband_calibration(
        base, embedded_domain(base, pipeline), args.far, pipeline.encoder.version
    )
    calibrated = Scorer(calibrated_operating_point(calibration))
    prior = DEFAULT_PRIORS["campplus"]
    print(
        "\n| domain | rule | decided by | named | strangers unknown | FRR | FAR | ECE |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        profiles, _ = gallery_profiles(domain, embedded, domain.enrollable)
        adapted_point = gallery_operating_point(prior, profiles)
        adapted = Scorer(adapted_point)
        gallery = adapted_point.gallery_band
        for rule, scorer_for in (
            ("calibration decides every claim", lambda band: calibrated),
            (
                "calibration decides its own band",
                lambda band, own=adapted: calibrated if calibration.covers(band) else own,
            ),
        ):
            cells, decided = answer(domain, embedded, scorer_for, gallery)
            print(f"| {name} | {rule} | {decided} | {cells} |")
    app_probes_among_telephone_enrolments(root, pipeline, calibrated, calibration)


if __name__ == "__main__":
    main()
