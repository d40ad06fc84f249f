"""The speech gate of diarization (issue 16): where do false alarms come from, and what
does bounding speaker activity by the voice detector's speech cost in missed speech?

    PYTHONPATH=src python bench/diarization_gate.py

Diarizes every AMI clip of ``debug.train`` and ``debug.development`` once with the gate
off (``DiarizationConfig(speech_pad_seconds=None)``), then applies each gate setting
(Silero VAD threshold, pad on each side, gaps bridged) to that output, frame by frame on
a 10 ms grid inside the UEM, as the engine does. Per split it prints, in % of the
reference speech: false alarms where the reference has nobody speaking ("FA, silence"),
false alarms from more speakers than the reference ("FA, extra"), missed speech, and
how much reference speech the tight VAD itself misses. Frame counting is close to, but
not the same as, pyannote.metrics' DER parts in ``bench/diarization.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from pyannote.core import Annotation  # noqa: E402

import diarization as bench  # type: ignore[import-not-found]  # noqa: E402
from voxprint.audio import load_audio  # noqa: E402
from voxprint.bootstrap import ServiceOptions, build_service  # noqa: E402
from voxprint.diarization import DiarizationConfig, SpeakerDiarizer  # noqa: E402
from voxprint.vad import SileroVad, VadConfig  # noqa: E402

RATE = 16000
FRAME = 0.01
#: (VAD threshold, pad seconds, bridge seconds); ``None``: no gate.
GATES: list[tuple[float, float, float] | None] = [
    None,
    *[
        (threshold, pad, bridge)
        for threshold in (0.5, 0.35, 0.2)
        for pad, bridge in ((0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (1.0, 2.0))
    ],
]


def speakers_per_frame(annotation: Annotation, frames: int) -> np.ndarray:
    count = np.zeros(frames, dtype=np.int64)
    for segment, _, _ in annotation.itertracks(yield_label=True):
        count[int(segment.start / FRAME) : int(segment.end / FRAME)] += 1
    return count


def spans_to_frames(spans: tuple[tuple[int, int], ...], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for start, end in spans:
        mask[int(start / RATE / FRAME) : int(end / RATE / FRAME)] = True
    return mask


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="voxprint-gate-"))
    service = build_service(ServiceOptions(db=workdir / "gate.db"))
    ungated = SpeakerDiarizer(config=DiarizationConfig(speech_pad_seconds=None))
    root = bench.data_root() / "ami"
    clips: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for split in ("train", "development"):
        refs = bench.read_rttm(root / f"debug.{split}.rttm")
        uems = bench.read_uem(root / f"debug.{split}.uem")
        for uri, ref in refs.items():
            waveform = load_audio(root / f"{uri}.flac")
            frames = int(len(waveform) / RATE / FRAME)
            try:
                result = ungated.diarize(service, (waveform, RATE), name_speakers=False)
                hyp = bench.voxprint_annotation(result, uri)
            except Exception as error:  # a clip where nobody is found counts as all missed
                print(f"  {uri}: {error}")
                hyp = Annotation(uri=uri)
            scored = np.zeros(frames, dtype=bool)
            uem = uems[uri][0]
            scored[int(uem.start / FRAME) : int(uem.end / FRAME)] = True
            clips.setdefault(split, []).append(
                (
                    waveform,
                    speakers_per_frame(ref, frames) * scored,
                    speakers_per_frame(hyp, frames) * scored,
                )
            )
    vads: dict[float, SileroVad] = {}
    print("| gate (threshold, pad, bridge) | split | FA, silence | FA, extra | miss | sum |")
    print("|---|---|---|---|---|---|")
    for gate in GATES:
        for split, items in clips.items():
            ref_total = fa_silence = fa_extra = miss = 0
            for waveform, ref, hyp in items:
                if gate is not None:
                    threshold, pad, bridge = gate
                    vad = vads.setdefault(threshold, SileroVad(VadConfig(threshold=threshold)))
                    spans = vad.detect(waveform).widened(pad, bridge).segments
                    hyp = hyp * spans_to_frames(spans, hyp.size)
                ref_total += int(ref.sum())
                fa_silence += int(hyp[ref == 0].sum())
                fa_extra += int(np.maximum(hyp - ref, 0)[ref > 0].sum())
                miss += int(np.maximum(ref - hyp, 0).sum())
            parts = [100 * x / max(ref_total, 1) for x in (fa_silence, fa_extra, miss)]
            label = "none" if gate is None else ", ".join(f"{v:g}" for v in gate)
            cells = " | ".join(f"{p:.1f}" for p in parts)
            print(f"| {label} | {split} | {cells} | {sum(parts):.1f} |")
    tight = vads.setdefault(0.5, SileroVad(VadConfig(threshold=0.5)))
    for split, items in clips.items():
        lost = sum(
            int(((ref > 0) & ~spans_to_frames(tight.detect(w).segments, ref.size)).sum())
            for w, ref, _ in items
        )
        total = sum(int((ref > 0).sum()) for _, ref, _ in items)
        print(
            f"{split}: the VAD (threshold 0.5, no pad) misses {100 * lost / total:.1f} % of "
            "the reference speech frames"
        )


if __name__ == "__main__":
    main()
