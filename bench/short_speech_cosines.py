"""Owners' and strangers' cosines against probe speech, next to what the score model expects.

Usage:
    .venv/bin/python bench/short_speech_cosines.py [--domains fsdd speechcommands ...]

Every enrollable speaker of a domain is enrolled (embeddings from bench/decision_cache.py),
and the operating point is the shipped prior adapted to that gallery, as the service has
it. Each probe is scored against every voiceprint; the claims are grouped by the probe's
net speech (what the voice detector measured). Per group: the mean cosine of owners
(probe against its own voiceprint) and of strangers (against the others), and the means the
model expects for them at those durations. Where the measured and the expected means part,
the duration terms of the prior (shrinkage, speech offset) are what to look at.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import band_of
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import gallery_operating_point, gallery_profiles
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.settings import default_data_root

BINS = (0.0, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, np.inf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=["fsdd", "fsdd-pin"], choices=DOMAINS)
    parser.add_argument("--model", default="campplus")
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    prior = DEFAULT_PRIORS[args.model]
    root = default_data_root()
    print(
        "| domain | probe speech | owner claims | owners' mean cosine (model) "
        "| stranger claims | strangers' mean cosine (model) |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        profiles, enrol_seconds = gallery_profiles(domain, embedded, domain.enrollable)
        point = gallery_operating_point(prior, profiles)
        voiceprints = np.stack([p.voiceprint for p in profiles])
        rows = embedded.rows(domain.probes)
        truth = np.array(
            [
                domain.enrollable.index(domain.speaker_of[k])
                if domain.speaker_of[k] in domain.enrolment
                else -1
                for k in domain.probes
            ]
        )
        owners: list[tuple[float, float, float]] = []  # (seconds, cosine, expected)
        strangers: list[tuple[float, float, float]] = []
        for row, own in zip(rows, truth, strict=True):
            probe = embedded.probe(int(row))
            model = point.model(band_of(probe.bandwidth_hz))
            seconds = probe.net_speech_seconds
            cosines = voiceprints @ probe.embedding
            for index, cosine in enumerate(cosines):
                if index == own:
                    expected = model.target_mean(seconds, enrol_seconds[index], probe.snr_db)
                    owners.append((seconds, float(cosine), float(expected)))
                else:
                    expected = model.impostor_mean(seconds)
                    strangers.append((seconds, float(cosine), float(expected)))
        own_rows, other_rows = np.array(owners), np.array(strangers)
        for lo, hi in itertools.pairwise(BINS):
            a = own_rows[(own_rows[:, 0] >= lo) & (own_rows[:, 0] < hi)]
            b = other_rows[(other_rows[:, 0] >= lo) & (other_rows[:, 0] < hi)]
            if len(a) + len(b) == 0:
                continue
            label = f"{lo:g}-{hi:g} s" if np.isfinite(hi) else f"{lo:g} s+"

            def cell(part: np.ndarray) -> str:
                if len(part) == 0:
                    return "–"
                return f"{part[:, 1].mean():.3f} ({part[:, 2].mean():.3f})"

            print(f"| {name} | {label} | {len(a)} | {cell(a)} | {len(b)} | {cell(b)} |")


if __name__ == "__main__":
    main()
