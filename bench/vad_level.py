"""Quiet recordings and the voice detector: how often Silero VAD finds no speech at all,
with the audio at several levels, raw and raised for detection.

Usage:
    VOXPRINT_DATA=../shared/data .venv/bin/python bench/vad_level.py

For 200 random items (seeded) of each domain, the audio as recorded and scaled to a tenth
and to 3 % of its level, detected: as it is (before 2026-12-07), raised to 0.5 (tried),
and raised to 0.1 (:data:`voxprint.vad.DETECTION_LEVEL`, kept). "Raised to L": audio whose
99.9th percentile of absolute amplitude is under L is scaled up to L, by at most 40 dB
(:func:`voxprint.vad.level_for_detection`). Then the six noise recordings of the shared
data, raised from their level and from 5 % of it: seconds of speech found (none wanted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import voxprint.vad as vad_module
from voxprint.audio import load_audio
from voxprint.evaluation.datasets import load_item
from voxprint.evaluation.domains import build_domain
from voxprint.settings import default_data_root

DOMAINS = ("fsdd", "speechcommands", "noise-0dB")
GAINS = (1.0, 0.1, 0.03)
#: ``None``: detection on the audio as it is.
LEVELS = (None, 0.5, 0.1)


def no_speech_share(detector: vad_module.SileroVad, waves: list[np.ndarray], gain: float) -> float:
    found = [detector.detect((w * gain).astype(np.float32)).net_speech_seconds for w in waves]
    return float(np.mean(np.array(found) == 0.0))


def main() -> None:
    root = default_data_root()
    detector = vad_module.SileroVad()
    kept = vad_module.DETECTION_LEVEL
    print("| domain | level of the audio | raw | raised to 0.5 | raised to 0.1 |")
    print("|---|---|---|---|---|")
    for name in DOMAINS:
        items = build_domain(name, root).used_items()
        rng = np.random.default_rng(0)
        picked = rng.choice(len(items), size=min(200, len(items)), replace=False)
        waves = [load_item(items[int(i)], sample_rate=16000) for i in picked]
        for gain in GAINS:
            cells = []
            for level in LEVELS:
                vad_module.DETECTION_LEVEL = 1e-12 if level is None else level
                cells.append(f"{100 * no_speech_share(detector, waves, gain):.1f} %")
            print(f"| {name} | {gain:g} | {' | '.join(cells)} |")
    vad_module.DETECTION_LEVEL = kept
    print()
    print("| noise recording | level | speech found |")
    print("|---|---|---|")
    for path in sorted(Path(root, "noise").glob("*.wav")):
        wave = load_audio(path, sample_rate=16000)[: 16000 * 20]
        for gain in (1.0, 0.05):
            found = detector.detect((wave * gain).astype(np.float32)).net_speech_seconds
            print(f"| {path.name} | {gain:g} | {found:.2f} s |")


if __name__ == "__main__":
    main()
