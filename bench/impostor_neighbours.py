"""Where the children's false accepts of ``bench/decisions.py`` come from (issue 11).

Usage:
    .venv/bin/python bench/impostor_neighbours.py [--model campplus] [--group child]

Enrols every enrollable speaker of the speechocean762 ``--group`` (as the decision
benchmark's "all" gallery does, adapted operating point), then claims each known probe
against the profile ``offset`` places after its own in speaker-ID order, for several
offsets. The decision benchmark uses offset 1, the neighbouring ID. Prints the false
accept rate per offset and the closest pairs of voiceprints with the speakers' age and
gender from ``SPEAKERS.tsv``.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import gallery_operating_point, gallery_profiles
from voxprint.evaluation.domains import build_domain, domain_group
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Scorer
from voxprint.settings import default_data_root

OFFSETS = (1, 2, 3, 5, 8, 13)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="campplus")
    parser.add_argument("--group", default="child", choices=["child", "adult"])
    args = parser.parse_args()
    root = default_data_root()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    prior = DEFAULT_PRIORS[args.model]
    base = build_domain("speechocean762", root)
    embedded = embedded_domain(base, pipeline)
    domain = domain_group(base, args.group)
    gallery = sorted(domain.enrolment)
    profiles, seconds = gallery_profiles(domain, embedded, gallery)
    scorer = Scorer(gallery_operating_point(prior, profiles))
    voiceprints = np.stack([p.voiceprint for p in profiles])
    known = [k for k in domain.probes if domain.speaker_of[k] in domain.enrolment]
    n = len(gallery)
    print(f"{domain.name}: {n} profiles, {len(known)} known probes, model {args.model}\n")
    print("| claimed profile | impostor claims | false accepts |")
    print("|---|---|---|")
    for offset in OFFSETS:
        if offset % n == 0:  # that would claim the probe's own profile
            continue
        accepted = 0
        for key in known:
            claimed = (gallery.index(domain.speaker_of[key]) + offset) % n
            probe = embedded.probe(int(embedded.rows([key])[0]))
            verdict = scorer.verify(probe, voiceprints[claimed], float(seconds[claimed]))
            accepted += int(verdict.decision.value == "accept")
        where = "next ID (the benchmark's)" if offset == 1 else f"{offset} IDs on"
        print(f"| {where} | {len(known)} | {100 * accepted / len(known):.1f} % |")
    with open(root / "speechocean762" / "SPEAKERS.tsv", newline="") as handle:
        about = {row["speaker"]: row for row in csv.DictReader(handle, delimiter="\t")}
    similar = voiceprints @ voiceprints.T
    pairs = sorted(
        ((float(similar[i, j]), gallery[i], gallery[j]) for i in range(n) for j in range(i + 1, n)),
        reverse=True,
    )
    print("\n| voiceprint cosine | speaker | speaker |")
    print("|---|---|---|")

    def who(speaker: str) -> str:
        row = about.get(speaker, {})
        return f"{speaker} ({row.get('age', '?')}, {row.get('gender', '?')})"

    for cosine, a, b in pairs[:6]:
        print(f"| {cosine:.3f} | {who(a)} | {who(b)} |")


if __name__ == "__main__":
    main()
