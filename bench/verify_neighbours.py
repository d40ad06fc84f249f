"""Verification with the neighbour guard: owners' claims kept, impostors' refused, per domain.

Usage:
    .venv/bin/python bench/verify_neighbours.py [--domains tel-8k fsdd ...]
                                                [--margins 0.06 0.08 0.10 0.12]

A claim is accepted only if its cosine also stands ``margin`` above the mean of the five
profiles nearest the claimed one's voiceprint, on the claim's scale
(:attr:`voxprint.decision.OperatingPoint.neighbour_margin`, ``Scorer.verify``'s
``neighbours``), found among the best 50 other profiles for the probe, as the service
finds them. Identify has used this guard since stop 39; this measures what it costs
verification. Per domain (bench/decision_cache.py's embeddings), for the gallery of every
enrollable speaker and 5 seeded draws of 10, with the prior adapted to it as the service
adapts it: each known probe claims its own profile (FRR) and the next speaker's (FAR),
each stranger's probe claims one profile (FAR). Both verify routes: weighed against the
rivals (REST ``/v1`` verify) and alone (the Azure-compatible route). The attack these
guard against is measured by ``bench/band_centre_poisoning.py --neighbours``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from band_centre_poisoning import PRIOR, probe_candidates
from decision_cache import embedded_domain
from machine import header
from voxprint.adaptation import band_of, pair_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import EmbeddedDomain, galleries, gallery_profiles
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.scorer import Scorer
from voxprint.settings import default_data_root

#: Per guard and route: owner claims, of them rejected, impostor claims, of them accepted.
Tally = np.ndarray


def claims(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    gallery: Sequence[str],
    margins: Sequence[float | None],
) -> Tally:
    """``(len(margins), 2, 4)`` counts: per margin (``None``: no guard), per route (with
    rivals, alone): owner claims, rejected, impostor claims, accepted."""
    real, _ = gallery_profiles(domain, embedded, gallery)
    point = PRIOR.operating_point(PRIOR.statistics(real, updated_at=datetime.now(UTC)))
    scorers = [Scorer(replace(point, verify_neighbour_margin=m)) for m in margins]
    voiceprints = np.stack([p.voiceprint for p in real])
    seconds = np.array([float(np.sum(p.seconds)) for p in real])
    bands, sides = [p.band() for p in real], [p.statistics_band() for p in real]
    counts = np.zeros((len(margins), 2, 4), dtype=np.int64)
    for key in domain.probes:
        speaker = domain.speaker_of[key]
        if speaker not in gallery and speaker in domain.enrolment:
            continue  # an enrollable speaker left out of this draw
        row = int(embedded.rows([key])[0])
        probe = embedded.probe(row)
        by_band = point.profile_bands_matter(probe.bandwidth_hz)
        own = list(gallery).index(speaker) if speaker in gallery else -1
        claimed = [(own, True), ((own + 1) % len(real), False)] if own >= 0 else []
        if own < 0:
            claimed = [(row % len(real), False)]
        for index, genuine in claimed:
            pool = probe_candidates(probe, index, voiceprints, seconds, bands, sides, by_band)
            band = pair_band(band_of(probe.bandwidth_hz), bands[index])
            for tally, scorer, margin in zip(counts, scorers, margins, strict=True):
                for route, rivals in enumerate((pool, None)):
                    verdict = scorer.verify(
                        probe,
                        voiceprints[index],
                        float(seconds[index]),
                        band=band,
                        side=sides[index],
                        rivals=rivals,
                        neighbours=None if margin is None else pool,
                    )
                    accepted = verdict.decision.value == "accept"
                    if genuine:
                        tally[route, 0] += 1
                        tally[route, 1] += not accepted
                    else:
                        tally[route, 2] += 1
                        tally[route, 3] += accepted
    return counts


def cells(counts: Tally) -> str:
    """``FRR / FAR`` per margin, with rivals then alone."""
    shown = []
    for route in (0, 1):
        for owners, rejected, impostors, accepted in counts[:, route]:
            frr = 100 * rejected / owners if owners else float("nan")
            far = 100 * accepted / impostors if impostors else float("nan")
            shown.append(f"{frr:.1f} / {far:.2f}")
    return " | ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    parser.add_argument("--margins", nargs="+", type=float, default=[0.06, 0.08, 0.10, 0.12])
    args = parser.parse_args()
    margins: list[float | None] = [None, *args.margins]
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    print(header())
    heads = [f"{'none' if m is None else f'{m:.2f}'}" for m in margins]
    print("\nFRR / FAR in %, per neighbour margin; REST verify (with rivals), then Azure (alone)\n")
    print(
        "| gallery | "
        + " | ".join(f"rivals, {h}" for h in heads)
        + " | "
        + " | ".join(f"alone, {h}" for h in heads)
        + " |"
    )
    print("|---|" + "---:|" * (2 * len(heads)))
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        everyone = list(domain.enrollable)
        whole = claims(domain, embedded, everyone, margins)
        print(f"| {name}, all {len(everyone)} | {cells(whole)} |")
        if len(everyone) > 10:
            total = np.sum(
                [
                    claims(domain, embedded, list(g), margins)
                    for g in galleries(domain, 10, draws=5)
                ],
                axis=0,
            )
            print(f"| {name}, 5 draws of 10 | {cells(total)} |", flush=True)


if __name__ == "__main__":
    main()
