"""Quiet recordings and CAM++'s features: the embedding of a recording at a lower level
against the same recording at its own level.

Usage:
    VOXPRINT_DATA=../shared/data .venv/bin/python bench/quiet_features.py

For 40 seeded LibriSpeech test-other and 40 speechocean762 recordings, each scaled to a
tenth, a hundredth, ... of its level: the cosine of its embedding with the embedding at
its own level, with the log-mel floor as it was (nothing raised: before 2026-12-07) and
with quiet audio raised first (:func:`voxprint.features.above_the_floor`).
"""

from __future__ import annotations

import numpy as np

import voxprint.features as features_module
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.datasets import load_item
from voxprint.evaluation.domains import build_domain
from voxprint.settings import default_data_root

DOMAINS = ("test-other", "speechocean762")
GAINS = (1e-1, 1e-2, 1e-3, 1e-4)


def main() -> None:
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    kept = features_module.QUIET_LEVEL
    print("| domain | gain | 99.9th percentile (median) | cosine, as it was | raised first |")
    print("|---|---|---|---|---|")
    for name in DOMAINS:
        items = build_domain(name, root).used_items()
        rng = np.random.default_rng(0)
        picked = rng.choice(len(items), size=min(40, len(items)), replace=False)
        waves = [load_item(items[int(i)], sample_rate=16000) for i in picked]
        own = [pipeline.process_waveform(w, force=True) for w in waves]
        for gain in GAINS:
            cells = []
            for quiet_level in (0.0, kept):
                features_module.QUIET_LEVEL = quiet_level
                cosines = [
                    float(
                        pipeline.process_segments(
                            (w * np.float32(gain)).astype(np.float32), u.segments, force=True
                        ).embedding
                        @ u.embedding
                    )
                    for w, u in zip(waves, own, strict=True)
                ]
                cells.append(f"{np.median(cosines):.3f} (min {np.min(cosines):.3f})")
            features_module.QUIET_LEVEL = kept
            level = np.median([np.percentile(np.abs(w * gain), 99.9) for w in waves])
            print(f"| {name} | {gain:g} | {level:.1e} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
