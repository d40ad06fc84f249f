"""Verify claims weighed against enrolled look-alikes: the rival weight, per domain.

Usage:
    VOXPRINT_DATA=../shared/data .venv/bin/python bench/rival_weight.py

Every domain of the decision benchmark (bench/decisions.py) with all its enrollable
speakers enrolled, and speechocean762's children alone. Claims as there: every known probe
against its own profile and the next one, every unknown probe against one profile. A claim
is weighed against a stranger and, with total weight ``w``, against the gallery's other
profiles, each equally likely (:mod:`voxprint.scoring.rivals`; ``w = 0`` is the behaviour
before 2026-12-07, 1 the default). Reported per weight: the false accepts of claims made
with an enrolled speaker's voice (the look-alike case), of claims by speakers never
enrolled, the false rejects, and the calibration error. Embeddings come from the decision
cache (bench/decision_cache.py).

Then a namespace made larger: Speech Commands' 80 profiles plus every clip of the other
wideband domains (LibriSpeech test-other and tc100-halves, speechocean762, AMI) as a
stranger's profile of its own, and the owners' claims on their own profiles with the
best 50 of all the others as rivals, as the service weighs them: owners accepted with
and without the rivals.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import DEFAULT_RIVAL_WEIGHT
from voxprint.evaluation.decisions import (
    DomainResult,
    evaluate_domain,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import DOMAINS, build_domain, domain_group
from voxprint.operating_points import DEFAULT_PRIORS, ScoringPrior
from voxprint.scorer import Rivals, Scorer
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root

WEIGHTS = (0.0, 0.25, 0.5, DEFAULT_RIVAL_WEIGHT, 2.0)
#: Strangers' clips added to Speech Commands' namespace.
STRANGER_DOMAINS = ("test-other", "tc100-halves", "speechocean762", "ami")
STRANGERS_ADDED = (0, 100, 1000, None)


def crowded(pipeline: object, prior: ScoringPrior) -> None:
    """Owners' claims in Speech Commands' namespace made larger with strangers' clips."""
    root = default_data_root()
    owners = build_domain("speechcommands", root)
    embedded = embedded_domain(owners, pipeline)
    pool = np.concatenate(
        [
            l2_normalise(embedded_domain(build_domain(name, root), pipeline).embeddings)
            for name in STRANGER_DOMAINS
        ]
    ).astype(np.float32)
    gallery = tuple(owners.enrollable)
    profiles, enrol = gallery_profiles(owners, embedded, gallery)
    point = gallery_operating_point(prior, profiles)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    claims = [
        (embedded.probe(int(embedded.rows([key])[0])), gallery.index(owners.speaker_of[key]))
        for key in owners.probes
        if owners.speaker_of[key] in gallery
    ]
    rng = np.random.default_rng(20261207)
    print("| other profiles | owners accepted, w = 0 | w = 1 (default) |")
    print("|---|---|---|")
    for added in STRANGERS_ADDED:
        count = len(pool) if added is None else added
        strangers = pool[rng.choice(len(pool), size=count, replace=False)]
        accepted = {0.0: 0, DEFAULT_RIVAL_WEIGHT: 0}
        for probe, own in claims:
            others = np.concatenate([np.delete(voiceprints, own, axis=0), strangers])
            seconds = np.concatenate([np.delete(enrol, own), np.full(count, 10.0)])
            best = np.argsort(-(others @ probe.embedding))[:50]
            rivals = Rivals(others[best], seconds[best], others=len(others))
            for weight in accepted:
                scorer = Scorer(replace(point, rival_weight=weight))
                verdict = scorer.verify(probe, voiceprints[own], float(enrol[own]), rivals=rivals)
                accepted[weight] += verdict.decision.value == "accept"
        cells = " | ".join(f"{n} of {len(claims)}" for n in accepted.values())
        print(f"| {len(voiceprints) - 1 + count:,} | {cells} |")


def pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f} %"


def main() -> None:
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    prior = DEFAULT_PRIORS["campplus"]
    root = default_data_root()
    rows: list[tuple[str, int, list[DomainResult]]] = []
    for name in DOMAINS:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        groups = [domain]
        if name == "speechocean762":
            groups.append(domain_group(domain, "child"))
        for group in groups:
            results = [
                evaluate_domain(group, embedded, prior, sizes=(0,), rival_weight=w)[0]
                for w in WEIGHTS
            ]
            rows.append((group.name, len(group.enrollable), results))
    header = " | ".join(f"w = {w:g}" for w in WEIGHTS)
    for title, cell in (
        ("FAR of claims with an enrolled speaker's voice", lambda r: pct(r.far_enrolled)),
        ("FAR of claims by speakers never enrolled", lambda r: pct(r.far_strangers)),
        ("FRR", lambda r: pct(r.frr)),
        ("ECE", lambda r: f"{r.ece:.3f}"),
    ):
        print(f"{title}:\n")
        print(f"| domain | profiles | {header} |")
        print("|---|---|" + "---|" * len(WEIGHTS))
        for name, size, results in rows:
            print(f"| {name} | {size} | {' | '.join(cell(r) for r in results)} |")
        print()
    crowded(pipeline, prior)


if __name__ == "__main__":
    main()
