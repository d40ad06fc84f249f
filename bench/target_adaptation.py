"""Would adapting the owners' score model to a namespace's enrolment clips help? (One-off
check; not what the service does.)

Usage:
    .venv/bin/python bench/target_adaptation.py [--pseudo-profiles 10]

The service adapts only the impostor model to a namespace (:mod:`voxprint.adaptation`).
Enrolment clips also hold owners' trials: each clip against the voiceprint of its profile's
other clips. Here those leave-one-clip-out cosines, divided by the duration shrinkage the
prior expects, estimate the namespace's target ceiling; the estimate (trimmed mean over
profiles) is pooled with the prior's ceiling as ``pseudo-profiles`` worth of evidence, and
every domain is answered with and without it (every enrollable speaker enrolled, and
galleries of 2 in 3 seeded draws), through the decision benchmark's own code.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

import voxprint.evaluation.decisions as decisions
from decision_cache import embedded_domain
from voxprint.adaptation import ProfileClips
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS, ScoringPrior
from voxprint.scoring.llr import shrink_factor
from voxprint.settings import default_data_root

PRIOR = DEFAULT_PRIORS["campplus"]
_ADAPT_IMPOSTORS = decisions.gallery_operating_point


def ceiling_ratios(profiles: Sequence[ProfileClips], shrink_seconds: float) -> np.ndarray:
    """Per profile with two clips or more: the mean over its clips of the cosine with the
    other clips' voiceprint, divided by the shrinkage both durations imply."""
    ratios = []
    for profile in profiles:
        clips = np.asarray(profile.embeddings, dtype=np.float64)
        seconds = np.asarray(profile.seconds, dtype=np.float64)
        if clips.shape[0] < 2:
            continue
        total = clips.sum(axis=0)
        per_clip = []
        for i in range(clips.shape[0]):
            rest = total - clips[i]
            cosine = float(clips[i] @ rest) / (np.linalg.norm(clips[i]) * np.linalg.norm(rest))
            expected = shrink_factor(seconds[i], shrink_seconds) * shrink_factor(
                seconds.sum() - seconds[i], shrink_seconds
            )
            per_clip.append(cosine / float(expected))
        ratios.append(float(np.mean(per_clip)))
    return np.array(ratios)


def with_target_adaptation(pseudo: float):
    def operating_point(prior: ScoringPrior, profiles, *, adapt: bool = True):
        ratios = ceiling_ratios(profiles, prior.shrink_seconds) if adapt else np.zeros(0)
        ceiling = prior.targets.ceiling
        if ratios.size:
            cut = int(0.1 * ratios.size)
            estimate = float(np.mean(np.sort(ratios)[cut : ratios.size - cut]))
            ceiling = (pseudo * ceiling + ratios.size * estimate) / (pseudo + ratios.size)
        targets = replace(prior.targets, ceiling=ceiling)
        return _ADAPT_IMPOSTORS(replace(prior, targets=targets), profiles, adapt=adapt)

    return operating_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pseudo-profiles", type=float, default=10.0)
    args = parser.parse_args()
    root = default_data_root()
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    print(
        "| domain | ceiling estimate | gallery | named: service → adapted | "
        "unknown → unknown | FRR | FAR |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in DOMAINS:
        domain, adapted = build_domain(name, root), with_target_adaptation(args.pseudo_profiles)
        embedded = embedded_domain(domain, pipeline)
        profiles, _ = decisions.gallery_profiles(domain, embedded, list(domain.enrollable))
        ratios = ceiling_ratios(profiles, PRIOR.shrink_seconds)
        estimate = f"{ratios.mean():.3f}" if ratios.size else "- (one clip each)"
        runs = []
        for variant in (_ADAPT_IMPOSTORS, adapted):
            decisions.gallery_operating_point = variant
            try:
                runs.append(
                    decisions.evaluate_domain(domain, embedded, PRIOR, sizes=(0, 2), draws=3)
                )
            finally:
                decisions.gallery_operating_point = _ADAPT_IMPOSTORS
        for before, after in zip(*runs, strict=True):
            cells = [
                f"{100 * before.named:.1f} → {100 * after.named:.1f} %",
                f"{100 * before.unknown_rejected:.1f} → {100 * after.unknown_rejected:.1f} %",
                f"{100 * before.frr:.1f} → {100 * after.frr:.1f} %",
                f"{100 * before.far:.1f} → {100 * after.far:.1f} %",
            ]
            print(
                f"| {name} | {estimate} | {before.gallery_size} | " + " | ".join(cells) + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
