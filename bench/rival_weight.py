"""Verify claims weighed against enrolled look-alikes: the rival weight, per domain.

Usage:
    VOXPRINT_DATA=../shared/data .venv/bin/python bench/rival_weight.py

Every domain of the decision benchmark (bench/decisions.py) with all its enrollable
speakers enrolled, and speechocean762's children alone. Claims as there: every known probe
against its own profile and the next one, every unknown probe against one profile. A claim
is weighed against a stranger and, with weight ``w``, against the other enrolled profile
the probe resembles most (:mod:`voxprint.scoring.rivals`; ``w = 0`` is the behaviour before
2026-12-07, 0.05 the default). Reported per weight: the false accepts of claims made with
an enrolled speaker's voice (the look-alike case), of claims by speakers never enrolled,
the false rejects, and the calibration error. Embeddings come from the decision cache
(bench/decision_cache.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import DEFAULT_RIVAL_WEIGHT
from voxprint.evaluation.decisions import DomainResult, evaluate_domain
from voxprint.evaluation.domains import DOMAINS, build_domain, domain_group
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.settings import default_data_root

WEIGHTS = (0.0, 0.02, DEFAULT_RIVAL_WEIGHT, 0.1, 0.2)


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
                evaluate_domain(group, embedded, replace(prior, rival_weight=w), sizes=(0,))[0]
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


if __name__ == "__main__":
    main()
