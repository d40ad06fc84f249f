"""Diarization benchmark: DER/JER on the AMI clips, simulated conversations with names,
and the real-time factor; senko's CPU pipeline as the peer in the same run.

    PYTHONPATH=src python bench/diarization.py [--split development] [--conversations 12]
        [--json out.json] [--no-senko]

* AMI: ``ami/debug.<split>.*`` from the shared data (tune on ``train``, report on
  ``development``), scored by ``pyannote.metrics`` with overlap counted, with no collar
  and with a ±0.25 s collar (``collar=0.5`` in pyannote.metrics, which splits it).
* Peer: senko's ``Diarizer`` on CPU (Silero VAD, 1.5 s windows, CAM++, spectral
  clustering) with kaldi-native-fbank features in place of its bundled AVX-512
  extractor. Its unused UMAP/HDBSCAN/numba imports are stubbed when missing (they only
  serve recordings over 20 minutes).
* Simulated conversations, built deterministically from LibriSpeech test-other and
  speechocean762: 2-5 speakers, turns of 2-6 s of speech, pauses and some overlap;
  two speakers in three are enrolled (from files never used in a conversation), the
  rest are not. Reported: DER, the share of enrolled speakers' speech time that carries
  their name, and the share of unenrolled speakers' time not given an enrolled name.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from pyannote.core import Annotation, Segment, Timeline  # noqa: E402
from pyannote.metrics.diarization import (  # noqa: E402
    DiarizationErrorRate,
    JaccardErrorRate,
)

from voxprint.audio import load_audio  # noqa: E402
from voxprint.bootstrap import ServiceOptions, build_service  # noqa: E402
from voxprint.diarization import SpeakerDiarizer  # noqa: E402
from voxprint.vad import SileroVad  # noqa: E402

RATE = 16000
COLLARS = {"none": 0.0, "±0.25 s": 0.5}


def data_root() -> Path:
    import os

    return Path(os.environ.get("VOXPRINT_DATA", REPO.parent / "shared" / "data"))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def read_rttm(path: Path) -> dict[str, Annotation]:
    refs: dict[str, Annotation] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        start, duration = float(f[3]), float(f[4])
        refs.setdefault(f[1], Annotation(uri=f[1]))[Segment(start, start + duration)] = f[7]
    return refs


def read_uem(path: Path) -> dict[str, Timeline]:
    uems = {}
    for line in path.read_text().splitlines():
        f = line.split()
        uems[f[0]] = Timeline([Segment(float(f[2]), float(f[3]))])
    return uems


class Scores:
    """DER and JER accumulated over files, at each collar."""

    def __init__(self) -> None:
        self.der = {
            k: DiarizationErrorRate(collar=c, skip_overlap=False) for k, c in COLLARS.items()
        }
        self.jer = {k: JaccardErrorRate(collar=c, skip_overlap=False) for k, c in COLLARS.items()}
        self.seconds = 0.0
        self.audio = 0.0

    def add(self, ref: Annotation, hyp: Annotation, uem: Timeline) -> None:
        for metric in (*self.der.values(), *self.jer.values()):
            metric(ref, hyp, uem=uem)

    def row(self) -> dict[str, float]:
        out = {}
        for k in COLLARS:
            der = self.der[k]
            out[f"DER {k}"] = 100 * abs(der)
            out[f"JER {k}"] = 100 * abs(self.jer[k])
            total = der.accumulated_["total"]
            for part in ("missed detection", "false alarm", "confusion"):
                out[f"{part} {k}"] = 100 * der.accumulated_[part] / max(total, 1e-9)
        out["RTF"] = self.seconds / max(self.audio, 1e-9)
        return out


def voxprint_annotation(result, uri: str) -> Annotation:
    hyp = Annotation(uri=uri)
    for turn in result.turns:
        hyp[Segment(turn.start, turn.end)] = turn.label
    return hyp


# --- senko, the peer -------------------------------------------------------------------


def load_senko():
    """senko's CPU Diarizer with kaldi-native-fbank features (its own extractor needs
    AVX-512); ``None`` with the reason when it cannot run here."""
    for name in ("umap", "hdbscan", "numba"):
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.njit = lambda *a, **k: lambda f: f  # type: ignore[attr-defined]
            sys.modules[name] = stub
    try:
        import termcolor  # noqa: F401
    except ImportError:
        stub = types.ModuleType("termcolor")
        stub.colored = lambda s, *a, **k: s  # type: ignore[attr-defined]
        sys.modules["termcolor"] = stub
    try:
        import kaldi_native_fbank as knf
        from senko.diarizer import Diarizer
    except ImportError as error:
        return None, f"senko cannot be imported: {error}"

    def fbank(self, audio, subsegments, *, sample_offset=0):
        options = knf.FbankOptions()
        options.frame_opts.dither = 0.0
        options.frame_opts.samp_freq = RATE
        options.mel_opts.num_bins = 80
        feats, frames, offsets, offset = [], [], [], 0
        for a, b in subsegments:
            start = int(a * RATE) - sample_offset
            piece = audio[start : start + int((b - a) * RATE)]
            if len(piece) < 400:
                piece = np.pad(piece, (0, 400 - len(piece)))
            online = knf.OnlineFbank(options)
            online.accept_waveform(RATE, (piece * 32768.0).tolist())
            online.input_finished()
            f = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
            f = (f - f.mean(axis=0, keepdims=True)).astype(np.float32)
            feats.append(f.ravel())
            frames.append(f.shape[0])
            offsets.append(offset)
            offset += f.size
        return np.concatenate(feats), np.array(frames), np.array(offsets), 80

    Diarizer._extract_fbank_features = fbank
    try:
        return Diarizer(device="cpu", vad="silero", warmup=False, quiet=True), None
    except Exception as error:  # the peer failing must not stop the benchmark
        return None, f"senko's Diarizer could not start: {error}"


def senko_annotation(senko, waveform: np.ndarray, uri: str) -> Annotation:
    result = senko.diarize_samples(waveform.astype(np.float32), RATE, source_name=uri) or {}
    hyp = Annotation(uri=uri)
    for seg in result.get("merged_segments", []):
        if seg["end"] > seg["start"]:
            hyp[Segment(seg["start"], seg["end"])] = seg["speaker"]
    return hyp


# --- AMI -------------------------------------------------------------------------------


def run_ami(split: str, service, diarizer, senko) -> dict[str, dict[str, float]]:
    root = data_root() / "ami"
    refs = read_rttm(root / f"debug.{split}.rttm")
    uems = read_uem(root / f"debug.{split}.uem")
    systems = {"voxprint": Scores()}
    if senko is not None:
        systems["senko (CPU, knf features)"] = Scores()
    for uri, ref in refs.items():
        waveform = load_audio(root / f"{uri}.flac")
        audio_seconds = len(waveform) / RATE
        started = time.perf_counter()
        try:
            hyp = voxprint_annotation(
                diarizer.diarize(service, (waveform, RATE), name_speakers=False), uri
            )
        except Exception as error:
            print(f"  voxprint {uri}: {error}", file=sys.stderr)
            hyp = Annotation(uri=uri)
        systems["voxprint"].seconds += time.perf_counter() - started
        systems["voxprint"].audio += audio_seconds
        systems["voxprint"].add(ref, hyp, uems[uri])
        if senko is not None:
            started = time.perf_counter()
            peer = senko_annotation(senko, waveform, uri)
            scores = systems["senko (CPU, knf features)"]
            scores.seconds += time.perf_counter() - started
            scores.audio += audio_seconds
            scores.add(ref, peer, uems[uri])
    return {name: s.row() for name, s in systems.items()}


# --- simulated conversations -------------------------------------------------------------


def speaker_files(folder: Path) -> dict[str, list[Path]]:
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.flac"))
        if len(files) >= 5:
            out[sub.name] = files
    return out


def build_gallery(service, pools: dict[str, dict[str, list[Path]]]) -> dict[str, str]:
    """Enrol two speakers in three (sorted) of every source from their first 3 files;
    returns speaker key → profile name."""
    enrolled = {}
    for source, speakers in pools.items():
        for i, (speaker, files) in enumerate(speakers.items()):
            if i % 3 == 2:
                continue
            name = f"{source}-{speaker}"
            profile = service.create_profile(name)
            for path in files[:3]:
                service.enroll(profile.id, path, force=True, check_quality=False)
            if service.get_profile(profile.id).status.value == "enrolled":
                enrolled[f"{source}/{speaker}"] = name
    return enrolled


def make_conversation(k: int, pools, vad: SileroVad):
    """Conversation ``k``: waveform and reference turns ``[(start, end, speaker key)]``."""
    rng = np.random.default_rng(1000 + k)
    source = sorted(pools)[k % len(pools)]
    speakers = sorted(pools[source])
    n = 2 + k % 4
    chosen = [speakers[i] for i in rng.choice(len(speakers), size=n, replace=False)]
    order = list(chosen) + [chosen[i] for i in rng.integers(0, n, size=2 * n)]
    for i in range(1, len(order)):  # no speaker follows themself
        if order[i] == order[i - 1]:
            order[i] = chosen[(chosen.index(order[i]) + 1) % n]
    pieces, turns, cursor = [], [], 0.0
    for speaker in order:
        files = pools[source][speaker][3:]
        audio = load_audio(files[int(rng.integers(0, len(files)))])
        spans = vad.detect(audio).segments
        if not spans:
            continue
        speech_start = spans[0][0]
        length = int(rng.uniform(2.0, 6.0) * RATE)
        crop = audio[speech_start : speech_start + length]
        overlap = rng.random() < 0.2 and turns
        gap = -rng.uniform(0.3, 1.0) if overlap else rng.uniform(0.2, 1.0)
        start = max(0.0, cursor + gap)
        pieces.append((start, crop))
        for a, b in vad.detect(crop).segments:
            turns.append((start + a / RATE, start + b / RATE, f"{source}/{speaker}"))
        cursor = start + len(crop) / RATE
    total = int((max(s + len(c) / RATE for s, c in pieces) + 0.5) * RATE)
    mix = np.zeros(total, dtype=np.float32)
    for start, crop in pieces:
        a = int(start * RATE)
        mix[a : a + len(crop)] += crop
    peak = float(np.max(np.abs(mix)))
    if peak > 0.99:  # overlapped speech summed past full scale
        mix *= 0.99 / peak
    return mix, turns, chosen, source


def naming_shares(turns, result, enrolled: dict[str, str]) -> tuple[float, float, float, float]:
    """(enrolled time named right, enrolled time, unenrolled time without a wrong
    enrolled name, unenrolled time), on a 10 ms grid."""
    end = max(t[1] for t in turns)
    grid = np.arange(0, end, 0.01) + 0.005
    hyp = [(t.start, t.end, t.label) for t in result.turns]
    names = set(enrolled.values())
    good_e = all_e = good_u = all_u = 0.0
    for i, t in enumerate(grid):
        refs = {s for a, b, s in turns if a <= t < b}
        labels = {label for a, b, label in hyp if a <= t < b}
        allowed = {enrolled[s] for s in refs if s in enrolled}
        for speaker in refs:
            if speaker in enrolled:
                all_e += 1
                good_e += enrolled[speaker] in labels
            else:
                all_u += 1
                good_u += not ((labels & names) - allowed)
        del i
    return good_e * 0.01, all_e * 0.01, good_u * 0.01, all_u * 0.01


def bootstrap_interval(
    per_conversation: list[np.ndarray], good: int, total: int, draws: int = 2000
) -> tuple[float, float]:
    """95 % interval (percent) of a time share, resampling whole conversations."""
    if not per_conversation:
        return (float("nan"), float("nan"))
    table = np.stack(per_conversation)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(table), size=(draws, len(table)))
    sums = table[picks].sum(axis=1)
    shares = 100 * sums[:, good] / np.maximum(sums[:, total], 1e-9)
    low, high = np.percentile(shares, [2.5, 97.5])
    return (float(low), float(high))


def run_simulated(count: int, service, diarizer, senko, enrolled, pools) -> dict:
    vad = SileroVad()
    ours, peer = Scores(), Scores()
    per_conversation: list[np.ndarray] = []
    speakers_right = 0
    for k in range(count):
        mix, turns, chosen, source = make_conversation(k, pools, vad)
        uri = f"sim{k:02d}"
        ref = Annotation(uri=uri)
        for a, b, s in turns:
            ref[Segment(a, b)] = s
        uem = Timeline([Segment(0, len(mix) / RATE)])
        started = time.perf_counter()
        result = diarizer.diarize(service, (mix, RATE))
        ours.seconds += time.perf_counter() - started
        ours.audio += len(mix) / RATE
        ours.add(ref, voxprint_annotation(result, uri), uem)
        per_conversation.append(np.array(naming_shares(turns, result, enrolled)))
        speakers_right += len(result.speakers) == len(chosen)
        known = sum(f"{source}/{s}" in enrolled for s in chosen)
        print(
            f"  {uri}: {len(chosen)} speakers ({known} enrolled), found "
            f"{[s.label for s in result.speakers]}",
            file=sys.stderr,
        )
        if senko is not None:
            started = time.perf_counter()
            hyp = senko_annotation(senko, mix, uri)
            peer.seconds += time.perf_counter() - started
            peer.audio += len(mix) / RATE
            peer.add(ref, hyp, uem)
    shares = np.sum(per_conversation, axis=0) if per_conversation else np.zeros(4)
    out = {
        "voxprint": ours.row(),
        "enrolled_time_named_right": 100 * shares[0] / max(shares[1], 1e-9),
        "unenrolled_time_not_misnamed": 100 * shares[2] / max(shares[3], 1e-9),
        "enrolled_named_interval": bootstrap_interval(per_conversation, 0, 1),
        "unenrolled_unnamed_interval": bootstrap_interval(per_conversation, 2, 3),
        "enrolled_seconds": shares[1],
        "unenrolled_seconds": shares[3],
        "speaker_count_right": f"{speakers_right}/{count}",
        "audio_seconds": ours.audio,
        "gallery": len(enrolled),
    }
    if senko is not None:
        out["senko (CPU, knf features)"] = peer.row()
    return out


def table(rows: dict[str, dict[str, float]]) -> str:
    head = "| system | DER | JER | miss | FA | confusion | DER ±0.25 s | JER ±0.25 s | RTF |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['DER none']:.1f} % | {r['JER none']:.1f} % | "
            f"{r['missed detection none']:.1f} | {r['false alarm none']:.1f} | "
            f"{r['confusion none']:.1f} | {r['DER ±0.25 s']:.1f} % | {r['JER ±0.25 s']:.1f} % | "
            f"{r['RTF']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="development", choices=["train", "development"])
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--no-senko", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    root = data_root()
    workdir = Path(tempfile.mkdtemp(prefix="voxprint-diar-"))
    service = build_service(ServiceOptions(db=workdir / "bench.db", enrollment_speech_seconds=10.0))
    diarizer = SpeakerDiarizer()
    senko, why = (None, "--no-senko") if args.no_senko else load_senko()
    print(f"CPU: {cpu_name()}, {__import__('os').cpu_count()} cores; senko: {why or 'runs'}")

    report: dict = {"cpu": cpu_name(), "split": args.split, "senko": why or "ran"}
    report["ami"] = run_ami(args.split, service, diarizer, senko)
    print(f"\nAMI debug.{args.split} (Mix-Headset 30 s clips), overlap counted:\n")
    print(table(report["ami"]))

    if args.conversations > 0:
        pools = {
            "ls": speaker_files(root / "librispeech" / "test-other"),
            "so": speaker_files(root / "speechocean762"),
        }
        enrolled = build_gallery(service, pools)
        sim = run_simulated(args.conversations, service, diarizer, senko, enrolled, pools)
        report["simulated"] = sim
        rows = {k: v for k, v in sim.items() if isinstance(v, dict)}
        print(
            f"\nSimulated conversations ({args.conversations}, {sim['audio_seconds']:.0f} s, "
            f"gallery of {sim['gallery']} profiles):\n"
        )
        print(table(rows))
        print(
            f"\nenrolled speakers' time with the right name: "
            f"{sim['enrolled_time_named_right']:.1f} % of {sim['enrolled_seconds']:.0f} s "
            f"(95 % interval over conversations {sim['enrolled_named_interval'][0]:.1f}-"
            f"{sim['enrolled_named_interval'][1]:.1f}); "
            f"unenrolled speakers' time given no enrolled name: "
            f"{sim['unenrolled_time_not_misnamed']:.1f} % of {sim['unenrolled_seconds']:.0f} s "
            f"({sim['unenrolled_unnamed_interval'][0]:.1f}-"
            f"{sim['unenrolled_unnamed_interval'][1]:.1f}); "
            f"speaker count right in {sim['speaker_count_right']}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
