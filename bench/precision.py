"""CAM++ at reduced precision (int8, bfloat16) against float32: EER per protocol.

Usage:  .venv/bin/python bench/precision.py [--protocol test-other tc100-halves ...]
        [--variants onnx onnx-int8 openvino-bf16 auto]

Every variant runs in the same voxprint pipeline (same VAD, same crops); only the runtime
and its precision differ. The first variant is the baseline. Prints EER and minDCF of each,
the largest embedding deviation ``1 - cosine`` from the baseline, and each one's wall time.
"""

from __future__ import annotations

import argparse

import numpy as np

from voxprint.encoders import CampPlusEncoder
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate, min_dcf
from voxprint.evaluation.runner import embed_items, trial_scores
from voxprint.pipeline import EmbeddingPipeline
from voxprint.settings import default_data_root
from voxprint.vad import SileroVad

# variant name → (runtime, quantize)
VARIANTS: dict[str, tuple[str, str]] = {
    "onnx": ("onnx", "none"),
    "onnx-int8": ("onnx", "int8"),
    "torch": ("torch", "none"),
    "openvino": ("openvino", "none"),
    "openvino-bf16": ("openvino-bf16", "none"),
    "auto": ("auto", "none"),  # the default: the engines measured fastest on this CPU
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", nargs="+", default=["test-other", "tc100-halves"])
    parser.add_argument(
        "--variants", nargs="+", choices=sorted(VARIANTS), default=["onnx", "onnx-int8"]
    )
    args = parser.parse_args()
    vad = SileroVad()
    pipelines = {}
    for variant in args.variants:
        runtime, quantize = VARIANTS[variant]
        encoder = CampPlusEncoder(runtime=runtime, quantize=quantize)
        pipelines[variant] = EmbeddingPipeline(encoder, vad=vad)
        print(f"{variant}: runs on {encoder.runtime}, version {encoder.version}", flush=True)
    baseline = args.variants[0]
    header = ["protocol"]
    for variant in args.variants:
        header += [f"{variant} EER", f"{variant} minDCF", f"{variant} s"]
    header += [f"max 1 − cos vs {baseline}"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for protocol in args.protocol:
        eval_set = build_protocol(protocol, default_data_root())
        cells: list[str] = [protocol]
        embeddings = {}
        for variant, pipeline in pipelines.items():
            embedded = embed_items(pipeline, eval_set.items)
            target, nontarget = trial_scores(eval_set, embedded)
            eer, _ = equal_error_rate(target, nontarget)
            dcf, _ = min_dcf(target, nontarget, p_target=0.01)
            cells += [f"{100 * eer:.2f} %", f"{dcf:.4f}", f"{embedded.processing_seconds:.0f}"]
            embeddings[variant] = embedded.embeddings
        deviation = (
            max(
                float(np.max(1.0 - np.sum(embeddings[baseline] * embeddings[v], axis=1)))
                for v in args.variants[1:]
            )
            if len(args.variants) > 1
            else 0.0
        )
        cells.append(f"{deviation:.1e}")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
