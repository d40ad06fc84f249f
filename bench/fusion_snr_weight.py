"""Would the fused encoder hold up in noise if GE2E's share fell with the probe's SNR, or
with its length? (issue 11; levers measured and not kept, docs/benchmarks.md "A second
encoder for short speech").

Usage:
    .venv/bin/python bench/fusion_snr_weight.py [--by snr|speech]

Reads the ``campplus+ge2e`` embeddings of every domain from ``bench/decision_cache.py``'s
cache (run ``bench/decisions.py --model campplus+ge2e`` first, or wait for the embedding),
splits each into its CAM++ and centred GE2E parts, and re-weights GE2E per clip:
``0.3 × clip((snr - lo) / (hi - lo), 0, 1)`` of the cosine, from the clip's level SNR
(no SNR measured: full weight). For each ``(lo, hi)`` it refits the scoring prior on the
re-weighted embeddings (``bench/fit_decisions.py``'s fit) and answers every domain's
probes with all enrollable speakers enrolled. Per domain it prints the share of known
probes named right, of unknown probes answered "unknown", the verification FAR and the
best any single threshold could name. ``(0, 0)`` is the fusion as it is.

``--by speech`` ramps on the clip's net speech instead: full weight up to ``lo`` seconds,
none from ``hi`` (short words get GE2E's help, long and noisy speech stays CAM++'s).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.encoders.registry import GE2E_FUSION_WEIGHT
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    domain_trials,
    evaluate_domain,
    fit_prior,
)
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.settings import default_data_root

RAMPS = {
    "snr": ((0.0, 0.0), (5.0, 20.0), (10.0, 25.0), (15.0, 30.0)),
    "speech": ((0.0, 0.0), (1.0, 3.0), (1.5, 4.0), (2.0, 6.0), (3.0, 10.0)),
}
CAMPPLUS_DIMENSION = 192


def reweighted(embedded: EmbeddedDomain, lo: float, hi: float, by: str) -> EmbeddedDomain:
    rows = embedded.embeddings.astype(np.float64)
    campplus = rows[:, :CAMPPLUS_DIMENSION] / np.sqrt(1 - GE2E_FUSION_WEIGHT)
    ge2e = rows[:, CAMPPLUS_DIMENSION:] / np.sqrt(GE2E_FUSION_WEIGHT)
    snr = np.full(len(rows), np.nan) if embedded.snr_db is None else embedded.snr_db
    snr = np.nan_to_num(snr, nan=100.0)
    if hi > lo and by == "speech":
        weight = GE2E_FUSION_WEIGHT * np.clip((hi - embedded.seconds) / (hi - lo), 0.0, 1.0)
    elif hi > lo:
        weight = GE2E_FUSION_WEIGHT * np.clip((snr - lo) / (hi - lo), 0.0, 1.0)
    else:
        weight = np.full(len(rows), GE2E_FUSION_WEIGHT)
    fused = np.concatenate(
        [np.sqrt(1 - weight)[:, None] * campplus, np.sqrt(weight)[:, None] * ge2e], axis=1
    )
    fused /= np.linalg.norm(fused, axis=1, keepdims=True)
    return replace(embedded, embeddings=fused.astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by", choices=tuple(RAMPS), default="snr")
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model="campplus+ge2e"))
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in DOMAINS}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}
    base = DEFAULT_PRIORS["campplus+ge2e"]
    print("named right / unknown → unknown / FAR / best any threshold names, all enrolled\n")
    unit = "dB" if args.by == "snr" else "s of speech"
    print(f"| GE2E weight ramp ({unit}) | noise scale | " + " | ".join(DOMAINS) + " |")
    print("|---|---|" + "---|" * len(DOMAINS))
    for lo, hi in RAMPS[args.by]:
        changed = {name: reweighted(e, lo, hi, args.by) for name, e in embedded.items()}
        trials = [domain_trials(domains[name], changed[name]) for name in DOMAINS]
        prior = fit_prior(trials, source="bench/fusion_snr_weight.py", base=base)
        cells = []
        for name in DOMAINS:
            r = evaluate_domain(domains[name], changed[name], prior, sizes=(0,))[0]
            cells.append(
                f"{100 * r.named:.1f} / {100 * r.unknown_rejected:.1f} / {100 * r.far:.1f} / "
                f"{100 * r.best_threshold_named:.1f}"
            )
        ramp = "none (as it is)" if hi <= lo else f"{lo:g}-{hi:g}"
        print(
            f"| {ramp} | {prior.targets.noise_scale:.2f} | " + " | ".join(cells) + " |", flush=True
        )


if __name__ == "__main__":
    main()
