"""A clip enrolled into a profile that already has a voice: owners' clips against strangers'.

Usage:
    .venv/bin/python bench/enrolment_voice_check.py [--domains tel-8k fsdd ...]

Found in a walkthrough: a clip of another person enrolled into a profile without a word
(`enroll ivy other-speaker.flac`: "enrolled", and the voiceprint is now two people's).
Before the service checks a new clip against the voice a profile holds so far, this
measures what such a check would refuse. Per domain (bench/decision_cache.py's
embeddings), with the prior adapted to the gallery of every enrollable speaker as the
service adapts it, every speaker's enrolment clips are added in order: clip ``k + 1`` is
scored against the voiceprint of the first ``k`` clips (the owner's next clip), and so is
the next speaker's clip ``k + 1`` (a stranger's clip sent to the wrong profile), as a
verify claim is scored (no rivals). Reported: the share of each refused by the verify
decision itself, and by a score below each bound.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from band_centre_poisoning import PRIOR
from decision_cache import embedded_domain
from machine import header
from voxprint.adaptation import ProfileClips, band_of, pair_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import Decision, DecisionReason
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.scorer import Scorer
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root

BOUNDS = (0.01, 0.05, 0.2)


def partial_profile(embedded: EmbeddedDomain, rows: np.ndarray) -> ProfileClips:
    """A profile holding the clips of ``rows``, as the service builds it."""
    clips = embedded.embeddings[rows]
    return ProfileClips(
        l2_normalise(clips.mean(axis=0)),
        clips,
        embedded.seconds[rows],
        tuple(float(b) for b in embedded.bandwidth_hz[rows]),
    )


def scores(
    domain: OpenSetDomain, embedded: EmbeddedDomain, speakers: Sequence[str]
) -> dict[str, list[tuple[bool, float, bool]]]:
    """Per side (``owner``, ``stranger``): per clip scored, whether the verify decision
    refused it (reason ``no_match``: not too little speech), its score, and whether it
    had enough speech to decide at all."""
    profiles, _ = gallery_profiles(domain, embedded, speakers)
    scorer = Scorer(gallery_operating_point(PRIOR, profiles))
    out: dict[str, list[tuple[bool, float, bool]]] = {"owner": [], "stranger": []}
    for index, speaker in enumerate(speakers):
        own = embedded.rows(domain.enrolment[speaker])
        other = embedded.rows(domain.enrolment[speakers[(index + 1) % len(speakers)]])
        for k in range(1, len(own)):
            so_far = partial_profile(embedded, own[:k])
            for side, row in (("owner", own[k]), ("stranger", other[k % len(other)])):
                probe = embedded.probe(int(row))
                verdict = scorer.verify(
                    probe,
                    so_far.voiceprint,
                    float(np.sum(so_far.seconds)),
                    band=pair_band(band_of(probe.bandwidth_hz), so_far.band()),
                    side=so_far.statistics_band(),
                )
                decided = verdict.reason is not DecisionReason.INSUFFICIENT_SPEECH
                refused = decided and verdict.decision is Decision.REJECT
                out[side].append((refused, float(verdict.score), decided))
    return out


def row(name: str, measured: dict[str, list[tuple[bool, float, bool]]]) -> str:
    cells = []
    for side in ("owner", "stranger"):
        clips = measured[side]
        n = len(clips)
        decided = [c for c in clips if c[2]]
        refused = 100 * sum(c[0] for c in clips) / n if n else float("nan")
        under = [
            100 * sum(c[2] and c[1] < b for c in clips) / n if n else float("nan") for b in BOUNDS
        ]
        cells.append(
            f"{n} ({len(decided)} decided) | {refused:.1f} | "
            + " | ".join(f"{u:.1f}" for u in under)
        )
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    print(header())
    bounds = " | ".join(f"score < {b:g}" for b in BOUNDS)
    print("\nClips refused (%): by the verify decision, and by a score below each bound\n")
    print(
        f"| gallery | owners' next clips | refused | {bounds} "
        f"| strangers' clips | refused | {bounds} |"
    )
    print("|---|" + "---:|" * (2 * (2 + len(BOUNDS))))
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        speakers = [s for s in domain.enrollable if len(domain.enrolment[s]) >= 2]
        if len(speakers) < 2:
            print(f"| {name} | fewer than two speakers with two enrolment clips |")
            continue
        print(row(f"{name}, all {len(speakers)}", scores(domain, embedded, speakers)), flush=True)


if __name__ == "__main__":
    main()
