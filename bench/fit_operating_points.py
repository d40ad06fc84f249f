"""Fit each bundled encoder's operating point on tc100-halves and check it open-set.

Usage:  .venv/bin/python bench/fit_operating_points.py [--model campplus ge2e]

For each encoder it
1. embeds the 502 tc100-halves segments and the 100 test-other files (VAD on, forced);
2. fits the verification threshold (EER point), the logistic calibration and the
   impostor model on the 251 x 251 tc100-halves trials;
3. checks open-set identification at the gallery-size-aware threshold: the 251
   first halves are the gallery; the second halves should be identified and
   accepted, and the test-other files (speakers never enrolled) should come back
   "unknown".
It prints the constants for ``src/voxprint/operating_points.py`` and a markdown
summary for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import Decision
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate, min_dcf
from voxprint.evaluation.operating_point import fit_operating_point
from voxprint.evaluation.runner import embed_items, trial_scores
from voxprint.scoring.similarity import cosine_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["campplus", "ge2e"])
    args = parser.parse_args()
    halves = build_protocol("tc100-halves")
    strangers = build_protocol("test-other")
    for model in args.model:
        started = time.perf_counter()
        pipeline = build_pipeline(ServiceOptions(model=model))
        embedded = embed_items(pipeline, halves.items)
        target, nontarget = trial_scores(halves, embedded)
        point = fit_operating_point(target, nontarget, source="tc100-halves EER point")
        eer, _ = equal_error_rate(target, nontarget)
        dcf, _ = min_dcf(target, nontarget)

        index = embedded.index()
        assert halves.gallery_keys is not None and halves.probe_keys is not None
        gallery = embedded.embeddings[[index[k] for k in halves.gallery_keys]]
        probes = embedded.embeddings[[index[k] for k in halves.probe_keys]]
        policy = point.identification_policy()
        threshold = policy.threshold(len(gallery))
        scores = cosine_matrix(probes, gallery)
        best = scores.argmax(axis=1)
        correct = best == np.arange(len(probes))
        accepted = scores.max(axis=1) >= threshold
        known_ok = float(np.mean(correct & accepted))

        other = embed_items(pipeline, strangers.items)
        stranger_best = cosine_matrix(other.embeddings, gallery).max(axis=1)
        unknown = float(np.mean(stranger_best < threshold))
        decisions = [policy.decide(float(s), len(gallery)) for s in stranger_best]
        assert unknown == np.mean([d is Decision.REJECT for d in decisions])

        print(f"\n## {model} ({pipeline.encoder.version})")
        print(
            f"DEFAULT: verification_threshold={point.verification_threshold:.4f}, "
            f"calibration=ScoreCalibration(slope={point.calibration.slope:.4f}, "
            f"offset={point.calibration.offset:.4f}), "
            f"impostors=ImpostorModel(mean={point.impostors.mean:.4f}, "
            f"std={point.impostors.std:.4f})"
        )
        print("| measure | value |\n|---|---|")
        print(f"| tc100-halves EER | {100 * eer:.2f} % |")
        print(f"| tc100-halves minDCF(0.01) | {dcf:.4f} |")
        print(f"| closed-set top-1 (first -> second halves) | {100 * correct.mean():.1f} % |")
        print(f"| identification threshold for N=251 at 1 % false alarm | {threshold:.4f} |")
        print(f"| second halves identified correctly and accepted | {100 * known_ok:.1f} % |")
        print(f"| test-other files (never enrolled) answered unknown | {100 * unknown:.1f} % |")
        print(f"| wall time | {time.perf_counter() - started:.0f} s |")


if __name__ == "__main__":
    main()
