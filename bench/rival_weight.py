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
stranger's profile of its own, the operating point adapted to the whole namespace; each
owner's probe claimed on its own profile and on the next speaker's, with the best 50 of
all the others as rivals, as the service weighs them: claims accepted with and without
the rivals.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import ProfileClips
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
    """Claims in Speech Commands' namespace made larger with strangers' clips (each a
    profile of its own, with its own speech and bandwidth), the operating point adapted to
    the whole namespace as the service adapts it."""
    root = default_data_root()
    owners = build_domain("speechcommands", root)
    embedded = embedded_domain(owners, pipeline)
    pool: list[ProfileClips] = []
    for name in STRANGER_DOMAINS:
        other = embedded_domain(build_domain(name, root), pipeline)
        for row in range(len(other.keys)):
            vector = l2_normalise(other.embeddings[row])
            pool.append(
                ProfileClips(
                    vector,
                    other.embeddings[row : row + 1],
                    other.seconds[row : row + 1],
                    (float(other.bandwidth_hz[row]),),
                )
            )
    gallery = tuple(owners.enrollable)
    profiles, enrol = gallery_profiles(owners, embedded, gallery)
    claims = [
        (embedded.probe(int(embedded.rows([key])[0])), gallery.index(owners.speaker_of[key]))
        for key in owners.probes
        if owners.speaker_of[key] in gallery
    ]
    rng = np.random.default_rng(20261207)
    print(
        "| other profiles | owners accepted, w = 0 | w = 1 (default) "
        "| impostor claims accepted, w = 0 | w = 1 |"
    )
    print("|---|---|---|---|---|")
    for added in STRANGERS_ADDED:
        count = len(pool) if added is None else added
        strangers = [pool[int(i)] for i in rng.choice(len(pool), size=count, replace=False)]
        everyone = [*profiles, *strangers]
        point = gallery_operating_point(prior, everyone)
        voiceprints = np.stack([p.voiceprint for p in everyone])
        seconds = np.concatenate([enrol, [float(p.seconds.sum()) for p in strangers]])
        owners_in = {0.0: 0, DEFAULT_RIVAL_WEIGHT: 0}
        impostors_in = dict.fromkeys(owners_in, 0)
        for probe, own in claims:
            for claimed, tally in ((own, owners_in), ((own + 1) % len(gallery), impostors_in)):
                others = np.flatnonzero(np.arange(len(everyone)) != claimed)
                best = others[np.argsort(-(voiceprints[others] @ probe.embedding))[:50]]
                rivals = Rivals(voiceprints[best], seconds[best], others=len(others))
                for weight in tally:
                    scorer = Scorer(replace(point, rival_weight=weight))
                    verdict = scorer.verify(
                        probe, voiceprints[claimed], float(seconds[claimed]), rivals=rivals
                    )
                    tally[weight] += verdict.decision.value == "accept"
        cells = [f"{n} of {len(claims)}" for n in (*owners_in.values(), *impostors_in.values())]
        print(f"| {len(everyone) - 1:,} | {' | '.join(cells)} |")


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
