"""Measure the enrolment quality checks on real speech (issue 4).

Usage:  .venv/bin/python bench/quality_calibration.py [--model campplus] [--part speakers snr]

speakers: how often the multi-speaker check flags
  * one speaker: each train-clean-100 file alone (251 clips), and two different
    test-other files of one speaker joined (10 speakers x 9 pairs = 90 clips);
    with ``--clips N`` < 200: every (251 // N)-th file and N // 20 pairs per speaker;
  * two speakers: the first 6 s of one train-clean-100 speaker's file joined to the
    first 6 s of another's (speakers paired at random, fixed seed: 200 clips), and an
    unbalanced variant (9 s + 3 s, 200 clips).
  It prints the speaker_similarity quantiles and the detection / false-alarm rates at
  several thresholds.
snr: mixes each noise file into 60 test-other files at 0, 5, 10, 20 dB (true SNR =
  clean active-speech power over noise power, speech found by Silero VAD on the clean
  file) and compares the estimate (VAD run on the noisy mix, as in enrolment).
  Also checks the clipping measure on the same clean files, amplified x8 and clipped.
cost: time of the quality measures next to the embedding itself (CAM++, 8 files).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from voxprint.audio import load_audio
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.datasets import speaker_folders
from voxprint.quality import (
    QualityGate,
    assess_clip,
    clipped_fraction,
    estimate_snr,
    speaker_similarity,
    speech_windows,
)
from voxprint.settings import default_data_root
from voxprint.vad import SileroVad

RATE = 16000


def similarity_of(pipeline, waveform: np.ndarray, gate: QualityGate) -> float | None:
    segments = pipeline.vad.detect(waveform)
    windows = speech_windows(
        segments.extract(waveform), RATE, gate.window_seconds, gate.hop_seconds
    )
    if len(windows) < gate.min_windows:
        return None
    return speaker_similarity(np.stack([pipeline.encoder.embed(w) for w in windows]))


def part_speakers(model: str, root: Path, clips: int = 200) -> None:
    pipeline = build_pipeline(ServiceOptions(model=model))
    gate = QualityGate()
    rng = np.random.default_rng(4)
    tc = speaker_folders(root / "librispeech" / "train-clean-100")
    tc_audio = {s: load_audio(p[0]) for s, p in tc.items()}
    names = list(tc_audio)
    other = speaker_folders(root / "librispeech" / "test-other")
    started = time.perf_counter()

    singles = list(tc_audio.values())[:: max(1, 251 // clips)]
    one: list[float | None] = [similarity_of(pipeline, w, gate) for w in singles]
    for paths in other.values():
        audio = [load_audio(p) for p in paths]
        for i in range(min(len(audio) - 1, max(2, clips // 20))):
            one.append(similarity_of(pipeline, np.concatenate([audio[i], audio[i + 1]]), gate))
    print(f"one-speaker clips done ({time.perf_counter() - started:.0f} s)", flush=True)
    two: dict[str, list[float | None]] = {"6+6 s": [], "9+3 s": []}
    for label, (a_len, b_len) in {"6+6 s": (6, 6), "9+3 s": (9, 3)}.items():
        for _ in range(clips):
            a, b = rng.choice(len(names), size=2, replace=False)
            first = tc_audio[names[a]][: a_len * RATE]
            second = tc_audio[names[b]][: b_len * RATE]
            two[label].append(similarity_of(pipeline, np.concatenate([first, second]), gate))
    elapsed = time.perf_counter() - started

    def values(xs: list[float | None]) -> np.ndarray:
        return np.array([x for x in xs if x is not None])

    ones = values(one)
    print(f"\n## {model}: multi-speaker check ({elapsed:.0f} s)")
    print(f"one speaker: {ones.size} clips measured of {len(one)}")
    print("quantiles one  (1,5,50 %):", np.round(np.percentile(ones, [1, 5, 50]), 3))
    for label, xs in two.items():
        arr = values(xs)
        print(
            f"two {label}: {arr.size} of {len(xs)}; quantiles (50,95,99 %):",
            np.round(np.percentile(arr, [50, 95, 99]), 3),
        )
    print("| threshold | false alarms (one speaker) | detected 6+6 s | detected 9+3 s |")
    print("|---|---|---|---|")
    for threshold in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        fa = np.mean(ones < threshold)
        d1 = np.mean(values(two["6+6 s"]) < threshold)
        d2 = np.mean(values(two["9+3 s"]) < threshold)
        print(f"| {threshold:.2f} | {100 * fa:.1f} % | {100 * d1:.1f} % | {100 * d2:.1f} % |")
    np.savez(
        f"/tmp/quality_{model}.npz",
        one=ones,
        two66=values(two["6+6 s"]),
        two93=values(two["9+3 s"]),
    )


def part_snr(root: Path) -> None:
    vad = SileroVad()
    files = sorted((root / "librispeech" / "test-other").glob("*/*.flac"))[:60]
    noises = {p.stem: load_audio(p) for p in sorted((root / "noise").glob("*.wav"))}
    rng = np.random.default_rng(7)
    gate = QualityGate()
    print("\n## SNR estimate (60 test-other files x 6 noises per level)")
    print("| true SNR | mean estimate | mean abs error | median abs error | unknown | est < 5 dB |")
    print("|---|---|---|---|---|---|")
    results: dict[int, list[float | None]] = {}
    for level in (0, 5, 10, 20):
        results[level] = []
        for path in files:
            clean = load_audio(path)
            speech = vad.detect(clean).extract(clean)
            speech_power = float(np.mean(speech.astype(np.float64) ** 2))
            for noise in noises.values():
                start = int(rng.integers(0, len(noise) - len(clean)))
                piece = noise[start : start + len(clean)].astype(np.float64)
                scale = np.sqrt(speech_power / (np.mean(piece**2) * 10 ** (level / 10)))
                mixed = (clean + scale * piece).astype(np.float32)
                results[level].append(
                    estimate_snr(mixed, vad.detect(mixed), min_noise_seconds=gate.min_noise_seconds)
                )
        known = np.array([x for x in results[level] if x is not None])
        err = known - level
        print(
            f"| {level} dB | {known.mean():.1f} dB | {np.abs(err).mean():.1f} dB | "
            f"{np.median(np.abs(err)):.1f} dB | {len(results[level]) - known.size} | "
            f"{100 * np.mean(known < 5):.0f} % |"
        )
    clean_est = [estimate_snr(w, vad.detect(w)) for w in (load_audio(p) for p in files)]
    known = np.array([x for x in clean_est if x is not None])
    print(
        f"clean files: estimate median {np.median(known):.1f} dB, "
        f"below 5 dB: {int(np.sum(known < 5))} of {known.size} "
        f"({len(clean_est) - known.size} unknown)"
    )
    clean_clip = [clipped_fraction(load_audio(p)) for p in files]
    hard_clip = [clipped_fraction(np.clip(8 * load_audio(p), -1, 1)) for p in files]
    soft_clip = [clipped_fraction(0.5 * np.clip(8 * load_audio(p), -1, 1)) for p in files]
    print(
        f"clipping: clean max {100 * max(clean_clip):.3f} %; x8 clipped median "
        f"{100 * np.median(hard_clip):.1f} % (min {100 * min(hard_clip):.1f} %); "
        f"x8 clipped then halved median {100 * np.median(soft_clip):.1f} %"
    )


def part_cost(root: Path) -> None:
    """Time ``process_waveform`` and ``assess_clip`` in turn on 8 train-clean-100 files."""
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    files = sorted((root / "librispeech" / "train-clean-100").glob("*/*.flac"))[:8]
    embed = quality = audio = 0.0
    for path in files:
        waveform = load_audio(path)
        started = time.perf_counter()
        utterance = pipeline.process_waveform(waveform)
        embedded = time.perf_counter()
        assess_clip(waveform, utterance.segments, pipeline.encoder, QualityGate())
        embed += embedded - started
        quality += time.perf_counter() - embedded
        audio += len(waveform) / RATE
    print(
        f"\n{len(files)} files, {audio:.0f} s audio: embedding {embed:.2f} s, "
        f"quality {quality:.2f} s ({quality / embed:.2f} x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["campplus"])
    parser.add_argument("--part", nargs="+", default=["speakers", "snr"])
    parser.add_argument("--clips", type=int, default=200, help="two-speaker clips per variant")
    args = parser.parse_args()
    torch.set_num_threads(2)
    root = default_data_root()
    if "cost" in args.part:
        part_cost(root)
    if "snr" in args.part:
        part_snr(root)
    if "speakers" in args.part:
        for model in args.model:
            part_speakers(model, root, args.clips)


if __name__ == "__main__":
    main()
