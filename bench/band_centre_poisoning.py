"""Poisoning a band's centre in a namespace that mixes bands, beside one of one band.

Usage:
    .venv/bin/python bench/band_centre_poisoning.py [--counts 0 200 600] [--band narrow]
                                                   [--rivals]

bench/cross_band.py's mixed namespace (every other LibriSpeech speaker enrolled from
16 kHz speech, the rest from its 8 kHz telephone copy; bench/decision_cache.py's
embeddings), and for comparison a namespace of those telephone-enrolled speakers alone.
A key holder then enrols N crafted profiles in one band (``--band``): three clips each,
spread out at random but sharing a component opposite that band's mean voiceprint, as
bench/centre_poisoning.py crafts them. Each band's centre is made from its own profiles
(``ScoringPrior.band_centres_for``), so the crafted ones move only their band's.
Reported: the FAR of real impostor claims made with the 8 kHz probes (each known
speaker's probe against the next speaker's profile, each stranger's against one
profile), by the kind of profile claimed, and the share of strangers' probes identify names
(among every profile, crafted ones included), with the prior adapted to the namespace and
each side centred on its band's centre, as the service scores a claim; with ``--rivals``,
also weighed against the namespace's other profiles as the REST verify route weighs it
(the best 50 candidates for the probe, crafted ones among them, of all the others).
In memory, through the library (about 1 min warm).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import Band, ProfileClips, band_of, pair_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import EmbeddedDomain, gallery_profiles
from voxprint.evaluation.domains import OpenSetDomain, build_domain
from voxprint.gallery_index import CANDIDATES
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Probe, Rivals, Scorer
from voxprint.settings import default_data_root

PRIOR = DEFAULT_PRIORS["campplus"]
CRAFTED_HZ = {Band.NARROW: 3400.0, Band.WIDE: 7600.0}


def crafted(
    real: Sequence[ProfileClips], count: int, band: Band, rng: np.random.Generator
) -> list[ProfileClips]:
    """``count`` profiles of ``band`` whose clips share a component opposite the mean
    voiceprint of ``real``'s profiles of that band."""
    own = [p.voiceprint for p in real if p.statistics_band() is band]
    direction = np.mean(own, axis=0)
    direction /= np.linalg.norm(direction)
    profiles = []
    for _ in range(count):
        spread = rng.normal(size=(3, direction.size))
        spread /= np.linalg.norm(spread, axis=1, keepdims=True)
        clips = -0.5 * direction + math.sqrt(0.75) * spread
        clips = (clips / np.linalg.norm(clips, axis=1, keepdims=True)).astype(np.float32)
        voiceprint = clips.mean(axis=0)
        profiles.append(
            ProfileClips(
                voiceprint / np.linalg.norm(voiceprint),
                clips,
                np.full(3, 10.0),
                (CRAFTED_HZ[band],) * 3,
            )
        )
    return profiles


def probe_candidates(
    probe: Probe,
    claimed: int,
    voiceprints: np.ndarray,
    seconds: np.ndarray,
    bands: Sequence[Band | None],
    sides: Sequence[Band | None],
    by_band: bool,
) -> Rivals:
    """The best :data:`CANDIDATES` profiles for ``probe`` but the ``claimed`` one, as the
    service finds a claim's rivals and the claimed profile's neighbours, among all of
    ``voiceprints`` (``(n, dim)``, with their seconds, enrolment bands and sides)."""
    order = np.argsort(-(voiceprints @ probe.embedding), kind="stable")
    best = [int(i) for i in order if i != claimed][:CANDIDATES]
    return Rivals(
        voiceprints[best],
        seconds[best],
        [bands[i] for i in best] if by_band else None,
        others=len(voiceprints) - 1,
        sides=[sides[i] for i in best],
    )


def far(
    real: list[ProfileClips],
    speakers: list[str],
    poison: list[ProfileClips],
    probes: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    rivals: bool = False,
    neighbours: float | None = None,
) -> str:
    """The FAR of the 8 kHz probes' impostor claims on ``real`` (``speakers``' profiles)
    once ``poison`` is enrolled beside them, by the kind of profile claimed."""
    statistics = PRIOR.statistics([*real, *poison], updated_at=datetime.now(UTC))
    point = PRIOR.operating_point(statistics)
    scorer = Scorer(
        point if neighbours is None else replace(point, verify_neighbour_margin=neighbours)
    )
    domain, embedded = probes
    everyone = [*real, *poison]
    voiceprints = np.stack([p.voiceprint for p in everyone])
    seconds = np.array([float(np.sum(p.seconds)) for p in everyone])
    bands = [p.band() for p in everyone]
    sides = [p.statistics_band() for p in everyone]
    tally = {Band.WIDE: [0, 0], Band.NARROW: [0, 0]}
    strangers = [0, 0]  # identify: stranger probes, of them named
    for key in domain.probes:
        row = int(embedded.rows([key])[0])
        probe = embedded.probe(row)
        speaker = domain.speaker_of[key]
        own = speakers.index(speaker) if speaker in speakers else -1
        index = (own + 1) % len(real) if own >= 0 else row % len(real)
        claimed = real[index]
        band = pair_band(band_of(probe.bandwidth_hz), claimed.band())
        weighed = None
        by_band = scorer.point.profile_bands_matter(probe.bandwidth_hz)
        if own < 0:
            ranking = scorer.identify(
                probe, voiceprints, seconds, top_n=1, bands=bands if by_band else None, sides=sides
            )
            strangers[0] += 1
            strangers[1] += ranking.identified
        if rivals or neighbours is not None:
            weighed = probe_candidates(probe, index, voiceprints, seconds, bands, sides, by_band)
        verdict = scorer.verify(
            probe,
            claimed.voiceprint,
            float(np.sum(claimed.seconds)),
            band=band,
            side=claimed.statistics_band(),
            rivals=weighed if rivals else None,
            neighbours=None if neighbours is None else weighed,
        )
        counts = tally[claimed.statistics_band() or Band.WIDE]
        counts[0] += 1
        counts[1] += verdict.decision.value == "accept"
    rates = [*tally.values(), strangers]
    return " | ".join(
        f"{100 * accepted / claims:.1f} % of {claims}" if claims else "-"
        for claims, accepted in rates
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 200, 600])
    parser.add_argument("--band", choices=[b.value for b in Band], default=Band.NARROW.value)
    parser.add_argument("--rivals", action="store_true", help="weigh rivals, as REST verify")
    parser.add_argument(
        "--neighbours",
        type=float,
        default=None,
        help="verify with this neighbour margin: the claim must stand this far above the "
        "claimed profile's nearest neighbours among the probe's best 50 candidates "
        "(default: no such guard on verify)",
    )
    args = parser.parse_args()
    band = Band(args.band)
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    wide_domain, phone_domain = build_domain("tc100-halves", root), build_domain("tel-8k", root)
    wide = wide_domain, embedded_domain(wide_domain, pipeline)
    phone = phone_domain, embedded_domain(phone_domain, pipeline)
    speakers = list(wide_domain.enrollable)
    app, tel = speakers[::2], speakers[1::2]
    app_profiles, _ = gallery_profiles(*wide, app)
    tel_profiles, _ = gallery_profiles(*phone, tel)
    namespaces = {
        "mixed": (app_profiles + tel_profiles, app + tel),
        "telephone only": (tel_profiles, tel),
    }
    header = f"| namespace | crafted {band.value} profiles | FAR on app-enrolled "
    print(header + "| on telephone-enrolled | strangers named by identify |")
    print("|---|---|---|---|---|")
    for label, (real, order) in namespaces.items():
        if band is Band.WIDE and label != "mixed":
            continue
        rng = np.random.default_rng(0)
        for count in args.counts:
            poison = crafted(real, count, band, rng)
            result = far(real, order, poison, phone, rivals=args.rivals, neighbours=args.neighbours)
            print(f"| {label} | {count} | {result} |", flush=True)


if __name__ == "__main__":
    main()
