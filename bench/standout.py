"""How far a named voice must stand above the next five: owners kept, strangers refused.

Usage:
    .venv/bin/python bench/standout.py [--domains tel-8k speechcommands ...]
                                       [--margins 0.12 0.15 0.18]
                                       [--neighbours 0.08 0.10 0.12]

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
Last, owners' own claims and names in bench/cross_band.py's namespace that mixes app and
telephone enrolments (84 + 83), with 8 kHz and 16 kHz probes: identify, and verify
weighed against the best 50 other profiles as REST verify weighs it.
The margin chosen is the largest that names no fewer owners on any gallery.

``--neighbours``: with the default margin, the named profile must also stand that far
above the mean of the five candidates nearest its own voiceprint
(:attr:`voxprint.decision.OperatingPoint.neighbour_margin`); one column per value, "no
guard" and the ``--margins`` columns without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from band_centre_poisoning import PRIOR, crafted, probe_candidates
from decision_cache import embedded_domain
from voxprint.adaptation import Band, ProfileClips, band_of, pair_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.encoders.cpu import cpu_info
from voxprint.evaluation.decisions import EmbeddedDomain, galleries, gallery_profiles
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.scorer import Scorer
from voxprint.settings import default_data_root

DEFAULT_DOMAINS = ("tel-8k", "tc100-halves", "test-other", "speechocean762", "speechcommands")
#: One column: the standout margin and the neighbour margin (``None``: that guard off).
Guard = tuple[float | None, float | None]


def answers(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    gallery: Sequence[str],
    margins: Sequence[Guard],
    extra: Sequence[ProfileClips] = (),
) -> list[tuple[int, int, int, int]]:
    """Per guard: (owners named right, owner probes, strangers named, stranger probes)
    of ``gallery``'s namespace with ``extra`` profiles enrolled beside it."""
    real, _ = gallery_profiles(domain, embedded, gallery)
    everyone = [*real, *extra]
    point = PRIOR.operating_point(PRIOR.statistics(everyone, updated_at=datetime.now(UTC)))
    voiceprints = np.stack([p.voiceprint for p in everyone])
    seconds = np.array([float(np.sum(p.seconds)) for p in everyone])
    bands, sides = [p.band() for p in everyone], [p.statistics_band() for p in everyone]
    scorers = [Scorer(replace(point, standout_margin=m, neighbour_margin=n)) for m, n in margins]
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


def mixed_owners(
    real: Sequence[ProfileClips],
    speakers: Sequence[str],
    probes: tuple[OpenSetDomain, EmbeddedDomain],
    margins: Sequence[Guard],
) -> list[tuple[int, int, int]]:
    """Per margin: (owners named right, owners' own claims accepted, owner probes) of a
    namespace of ``real`` profiles (``speakers``'), each claim weighed against the best
    :data:`CANDIDATES` other profiles for its probe."""
    point = PRIOR.operating_point(PRIOR.statistics(list(real), updated_at=datetime.now(UTC)))
    voiceprints = np.stack([p.voiceprint for p in real])
    seconds = np.array([float(np.sum(p.seconds)) for p in real])
    bands, sides = [p.band() for p in real], [p.statistics_band() for p in real]
    scorers = [Scorer(replace(point, standout_margin=m, neighbour_margin=n)) for m, n in margins]
    counts = np.zeros((len(margins), 3), dtype=np.int64)
    domain, embedded = probes
    for key in domain.probes:
        if domain.speaker_of[key] not in speakers:
            continue
        own = list(speakers).index(domain.speaker_of[key])
        probe = embedded.probe(int(embedded.rows([key])[0]))
        by_band = point.profile_bands_matter(probe.bandwidth_hz)
        rivals = probe_candidates(probe, own, voiceprints, seconds, bands, sides, by_band)
        for row, scorer in zip(counts, scorers, strict=True):
            ranking = scorer.identify(
                probe, voiceprints, seconds, top_n=1, bands=bands if by_band else None, sides=sides
            )
            verdict = scorer.verify(
                probe,
                voiceprints[own],
                float(seconds[own]),
                band=pair_band(band_of(probe.bandwidth_hz), bands[own]),
                side=sides[own],
                rivals=rivals,
            )
            row[0] += ranking.identified and ranking.candidates[0].index == own
            row[1] += verdict.decision.value == "accept"
            row[2] += 1
    return [(int(a), int(b), int(c)) for a, b, c in counts]


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
    parser.add_argument("--neighbours", nargs="*", type=float, default=[])
    args = parser.parse_args()
    chosen = PRIOR.standout_margin
    margins: list[Guard] = [
        (None, None),
        *((m, None) for m in args.margins),
        *((chosen, n) for n in args.neighbours),
    ]
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    print(f"CPU: {cpu_info().describe()}")
    heads = [
        "no guard",
        *(f"margin {m:.2f}" for m in args.margins),
        *(f"{chosen:.2f} + neighbours {n:.2f}" for n in args.neighbours),
    ]
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
    app = list(wide.enrollable)[::2]
    app_profiles, _ = gallery_profiles(wide, embedded_domain(wide, pipeline), app)
    mixed, order = [*app_profiles, *real], [*app, *telephone]
    print()
    print(
        "| mixed namespace, owners: named right / own claim accepted | " + " | ".join(heads) + " |"
    )
    print("|---|" + "---|" * len(heads))
    for label, probes in (
        ("8 kHz", (phone, phone_embedded)),
        ("16 kHz", (wide, embedded_domain(wide, pipeline))),
    ):
        rows = mixed_owners(mixed, order, probes, margins)
        shown = " | ".join(f"{n} / {a} of {t}" for n, a, t in rows)
        print(f"| {label} probes | {shown} |", flush=True)


if __name__ == "__main__":
    main()
