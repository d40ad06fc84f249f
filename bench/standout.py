"""How far a named voice must stand above the next five: owners kept, strangers refused.

Usage:
    .venv/bin/python bench/standout.py [--domains tel-8k speechcommands ...]
                                       [--margins 0.12 0.15 0.18]

Identification is guarded: the best voice is named only when its cosine stands
``standout_margin`` above the mean of the next five of the namespace's profiles
(:attr:`voxprint.decision.OperatingPoint.standout_margin`). The guard is meant for a
namespace whose impostor model was pulled down by crafted profiles
(bench/band_centre_poisoning.py): a stranger then scores as a match against every real
profile near it, but cannot stand out from them. Reported per gallery (every enrollable
speaker of a domain, and 5 seeded draws of 10), with the prior adapted to it as the
service adapts it (bench/decision_cache.py's embeddings): owners named right and
strangers named, with no guard and at each margin. Then the telephone namespace of
bench/cross_band.py (the 83 tel-8k speakers enrolled by telephone) with 600 crafted
telephone profiles beside it, crafted two ways: sharing a component opposite the real
voices' mean (bench/band_centre_poisoning.py), and spread around the shipped centre.
The margin chosen is the largest that names no fewer owners on any gallery.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from band_centre_poisoning import PRIOR, crafted
from decision_cache import embedded_domain
from voxprint.adaptation import Band, ProfileClips
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.encoders.cpu import cpu_info
from voxprint.evaluation.decisions import EmbeddedDomain, galleries, gallery_profiles
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.scorer import Scorer
from voxprint.settings import default_data_root

DEFAULT_DOMAINS = ("tel-8k", "tc100-halves", "test-other", "speechocean762", "speechcommands")


def answers(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    gallery: Sequence[str],
    margins: Sequence[float | None],
    extra: Sequence[ProfileClips] = (),
) -> list[tuple[int, int, int, int]]:
    """Per margin: (owners named right, owner probes, strangers named, stranger probes)
    of ``gallery``'s namespace with ``extra`` profiles enrolled beside it."""
    real, _ = gallery_profiles(domain, embedded, gallery)
    everyone = [*real, *extra]
    point = PRIOR.operating_point(PRIOR.statistics(everyone, updated_at=datetime.now(UTC)))
    voiceprints = np.stack([p.voiceprint for p in everyone])
    seconds = np.array([float(np.sum(p.seconds)) for p in everyone])
    bands, sides = [p.band() for p in everyone], [p.statistics_band() for p in everyone]
    scorers = [Scorer(replace(point, standout_margin=m)) for m in margins]
    counts = np.zeros((len(margins), 4), dtype=np.int64)
    for key in domain.probes:
        speaker = domain.speaker_of[key]
        if speaker not in gallery and speaker in domain.enrolment:
            continue  # an enrollable speaker left out of this draw: neither owner nor stranger
        truth = gallery.index(speaker) if speaker in gallery else -1
        probe = embedded.probe(int(embedded.rows([key])[0]))
        by_band = point.profile_bands_matter(probe.bandwidth_hz)
        for row, scorer in zip(counts, scorers, strict=True):
            ranking = scorer.identify(
                probe, voiceprints, seconds, top_n=1, bands=bands if by_band else None, sides=sides
            )
            if truth >= 0:
                row[1] += 1
                row[0] += ranking.identified and ranking.candidates[0].index == truth
            else:
                row[3] += 1
                row[2] += ranking.identified
    return [tuple(int(v) for v in row) for row in counts]  # type: ignore[misc]


def around_shipped(count: int, rng: np.random.Generator) -> list[ProfileClips]:
    """``count`` narrowband profiles of random voices spread around the shipped centre."""
    assert PRIOR.centre is not None
    centre = PRIOR.centre.astype(np.float64)
    profiles = []
    for _ in range(count):
        clips = centre + 0.07 * rng.normal(size=(3, centre.size))
        clips = (clips / np.linalg.norm(clips, axis=1, keepdims=True)).astype(np.float32)
        voiceprint = clips.mean(axis=0)
        profiles.append(
            ProfileClips(
                voiceprint / np.linalg.norm(voiceprint), clips, np.full(3, 10.0), (3400.0,) * 3
            )
        )
    return profiles


def cells(results: list[tuple[int, int, int, int]]) -> str:
    return " | ".join(
        f"{100 * named / owners:.1f} % / {100 * wrong / strangers:.1f} %"
        for named, owners, wrong, strangers in results
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DEFAULT_DOMAINS), choices=DOMAINS)
    parser.add_argument("--margins", nargs="+", type=float, default=[0.12, 0.15, 0.18])
    args = parser.parse_args()
    margins: list[float | None] = [None, *args.margins]
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    print(f"CPU: {cpu_info().describe()}")
    heads = ["no guard", *(f"margin {m:.2f}" for m in args.margins)]
    print("| gallery | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    print("| (owners named right / strangers named) |" + " |" * len(heads))
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        everyone = list(domain.enrollable)
        result = answers(domain, embedded, everyone, margins)
        print(f"| {name}, all {len(everyone)} | {cells(result)} |")
        drawn = galleries(domain, min(10, len(everyone)), draws=5)
        if len(everyone) > 10:
            total = np.sum([answers(domain, embedded, list(g), margins) for g in drawn], axis=0)
            print(f"| {name}, 5 draws of 10 | {cells([tuple(r) for r in total])} |", flush=True)
    wide, phone = build_domain("tc100-halves", root), build_domain("tel-8k", root)
    phone_embedded = embedded_domain(phone, pipeline)
    telephone = list(wide.enrollable)[1::2]
    real, _ = gallery_profiles(phone, phone_embedded, telephone)
    attacks = {
        "none": [],
        "600 opposite the real voices' mean": crafted(
            real, 600, Band.NARROW, np.random.default_rng(0)
        ),
        "600 around the shipped centre": around_shipped(600, np.random.default_rng(1)),
    }
    for label, extra in attacks.items():
        result = answers(phone, phone_embedded, telephone, margins, extra)
        print(f"| 83 telephone-enrolled, crafted: {label} | {cells(result)} |", flush=True)


if __name__ == "__main__":
    main()
