"""CAM++ int8 (onnxruntime dynamic quantisation) against float32: EER per protocol.

Usage:  .venv/bin/python bench/quantization.py [--protocol test-other tc100-halves ...]

Both encoders run in the same voxprint pipeline (same VAD, same crops); only the
runtime's precision differs. Prints EER and minDCF of each, the largest embedding
deviation ``1 - cosine`` between the two, and the embedding wall time of each.
"""

from __future__ import annotations

import argparse

import numpy as np

from voxprint.encoders import CampPlusEncoder
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate, min_dcf
from voxprint.evaluation.runner import embed_items, trial_scores
from voxprint.pipeline import EmbeddingPipeline
from voxprint.vad import SileroVad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", nargs="+", default=["test-other", "tc100-halves"])
    args = parser.parse_args()
    vad = SileroVad()
    pipelines = {
        precision: EmbeddingPipeline(CampPlusEncoder(quantize=quantize), vad=vad)
        for precision, quantize in (("float32", "none"), ("int8", "int8"))
    }
    print(
        "| protocol | float32 EER | int8 EER | float32 minDCF | int8 minDCF "
        "| max 1 − cos | float32 s | int8 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for protocol in args.protocol:
        eval_set = build_protocol(protocol)
        cells: dict[str, tuple[float, float, float]] = {}
        embeddings = {}
        for precision, pipeline in pipelines.items():
            embedded = embed_items(pipeline, eval_set.items)
            target, nontarget = trial_scores(eval_set, embedded)
            eer, _ = equal_error_rate(target, nontarget)
            dcf, _ = min_dcf(target, nontarget, p_target=0.01)
            cells[precision] = (eer, dcf, embedded.processing_seconds)
            embeddings[precision] = embedded.embeddings
        deviation = float(np.max(1.0 - np.sum(embeddings["float32"] * embeddings["int8"], axis=1)))
        f, q = cells["float32"], cells["int8"]
        print(
            f"| {protocol} | {100 * f[0]:.2f} % | {100 * q[0]:.2f} % | {f[1]:.4f} | {q[1]:.4f} "
            f"| {deviation:.1e} | {f[2]:.0f} | {q[2]:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
