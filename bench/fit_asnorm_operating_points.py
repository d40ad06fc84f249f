"""Fit the AS-Norm operating points and measure calibration on tc100-halves (issue 4).

Usage:  .venv/bin/python bench/fit_asnorm_operating_points.py [--model campplus ge2e]

For each encoder it
1. embeds the 502 tc100-halves segments and, as the AS-Norm cohort, the 100 test-other
   files (10 speakers none of whom is in train-clean-100), VAD on, forced;
2. scores the 251 x 251 trials as raw cosines and as AS-Norm scores (top-k 200,
   clipped to the 100 cohort rows);
3. fits on each: the EER-point operating point (the defaults in operating_points.py)
   and what ``voxprint calibrate --far 0.01`` stores (logistic calibration, threshold
   for 1 % false accepts, achieved FAR/FRR), with ``voxprint.calibrator.fit_scale``;
4. checks the calibration: mean calibrated score of target / non-target trials and
   the log-likelihood-ratio cost Cllr (lower is better; 1 = uninformative).
Calibration is fitted and measured on the same trials (there is no second 251-speaker
set), so the FAR/FRR are in-sample.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.calibrator import fit_scale, trial_arrays
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate, min_dcf
from voxprint.evaluation.operating_point import fit_operating_point
from voxprint.evaluation.runner import embed_items
from voxprint.scoring.asnorm import AsNorm
from voxprint.scoring.calibration import ScoreCalibration
from voxprint.store.records import ScoreScale


def cllr(calibration: ScoreCalibration, target: np.ndarray, nontarget: np.ndarray) -> float:
    """Log-likelihood-ratio cost of calibrated scores (prior 0.5)."""
    lt = calibration.slope * target + calibration.offset
    ln = calibration.slope * nontarget + calibration.offset
    return float(0.5 / np.log(2) * (np.logaddexp(0, -lt).mean() + np.logaddexp(0, ln).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["campplus", "ge2e"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    halves = build_protocol("tc100-halves")
    cohort_set = build_protocol("test-other")
    for model in args.model:
        started = time.perf_counter()
        pipeline = build_pipeline(ServiceOptions(model=model))
        embedded = embed_items(pipeline, halves.items)
        cohort = embed_items(pipeline, cohort_set.items).embeddings
        asnorm = AsNorm(cohort)
        print(f"\n## {model} ({pipeline.encoder.version}), cohort {cohort.shape[0]} files")
        print(
            "| scores | EER | minDCF(0.01) | slope | offset | Cllr | threshold @1 % FAR "
            "| FAR | FRR | EER-point threshold | impostor mean / std |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for scale, norm in ((ScoreScale.COSINE, None), (ScoreScale.ASNORM, asnorm)):
            target, nontarget = trial_arrays(halves, embedded, norm)
            eer, _ = equal_error_rate(target, nontarget)
            dcf, _ = min_dcf(target, nontarget)
            fitted = fit_scale(
                target,
                nontarget,
                false_accept_rate=0.01,
                encoder_name=model,
                encoder_version=pipeline.encoder.version,
                scale=scale,
                source="tc100-halves",
            ).calibration
            point = fit_operating_point(target, nontarget, source="tc100-halves EER point")
            cal = ScoreCalibration(fitted.slope, fitted.offset)
            print(
                f"| {scale.value} | {100 * eer:.2f} % | {dcf:.4f} | {fitted.slope:.4f} | "
                f"{fitted.offset:.4f} | {cllr(cal, target, nontarget):.3f} | "
                f"{fitted.threshold:.4f} | {100 * fitted.achieved_far:.2f} % | "
                f"{100 * fitted.achieved_frr:.2f} % | {point.verification_threshold:.4f} | "
                f"{point.impostors.mean:.4f} / {point.impostors.std:.4f} |"
            )
            if scale is ScoreScale.ASNORM:
                print(
                    f"DEFAULT_ASNORM: verification_threshold={point.verification_threshold:.4f}, "
                    f"calibration=ScoreCalibration(slope={point.calibration.slope:.4f}, "
                    f"offset={point.calibration.offset:.4f}), "
                    f"impostors=ImpostorModel(mean={point.impostors.mean:.4f}, "
                    f"std={point.impostors.std:.4f})"
                )
        print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
