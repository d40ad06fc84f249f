"""Diarization levers (issue 16), on the tuning data only: AMI ``debug.train`` and the
simulated conversations of ``bench/diarization.py`` (never ``debug.development``).

    PYTHONPATH=src python bench/diarization_levers.py [--cache /tmp/diar-levers]

Segmentation and the piece embeddings (default ``DiarizationConfig``: 2 s step, 3 s
pieces) are computed once per recording and kept in ``--cache``; each lever then redoes
clustering, assignment, reconstruction and naming (with the code in ``src``: the rule
that merges clusters named the same profile included), so a grid costs seconds. The
gallery is the one ``bench/diarization.py`` builds, kept in the cache folder.

Levers: the agglomerative cut (``cluster_threshold``), spectral clustering
(:func:`voxprint.diarization.clustering.spectral_cluster`: neighbours kept, normalized
or plain Laplacian, centroid merging) and a reassignment pass (centroids recomputed from
every assigned piece, weighted by its seconds, pieces reassigned, 1-2 times).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from pyannote.core import Annotation, Segment, Timeline  # noqa: E402

import diarization as bench  # type: ignore[import-not-found]  # noqa: E402
from voxprint.audio import load_audio  # noqa: E402
from voxprint.bootstrap import ServiceOptions, build_service  # noqa: E402
from voxprint.diarization import DiarizationConfig, SpeakerDiarizer  # noqa: E402
from voxprint.diarization.clustering import (  # noqa: E402
    SpeakerCount,
    centroids_of,
    cluster_embeddings,
    normalize_rows,
    spectral_cluster,
)
from voxprint.diarization.engine import AnonymousDiarization, Diarizer  # noqa: E402
from voxprint.diarization.segmentation import Segmenter  # noqa: E402

RATE = 16000


@dataclass(frozen=True)
class Lever:
    method: str = "agglomerative"
    threshold: float = 0.65
    neighbour_fraction: float = 0.25
    merge_cosine: float | None = 0.6
    normalized: bool = True
    refine: int = 0

    def __str__(self) -> str:
        if self.method == "agglomerative":
            text = f"agglomerative, cut at {self.threshold}"
        else:
            laplacian = "normalized" if self.normalized else "D - A"
            text = (
                f"spectral, {self.neighbour_fraction:.0%} neighbours, {laplacian}, "
                f"merge at {self.merge_cosine}"
            )
        return text + (f", {self.refine} reassignment pass(es)" if self.refine else "")


def recordings(service: Any, pools: dict, cache: Path) -> list[tuple]:
    """(kind, uri, cached pieces, reference, uem, conversation) for every recording."""
    segmenter: Segmenter | None = None
    vad = None
    out = []
    root = bench.data_root() / "ami"
    refs = bench.read_rttm(root / "debug.train.rttm")
    uems = bench.read_uem(root / "debug.train.uem")
    sources: list[tuple] = [
        ("ami", uri, lambda uri=uri: load_audio(root / f"{uri}.flac"), ref, uems[uri], None)
        for uri, ref in refs.items()
    ]
    for k in range(12):
        path = cache / f"sim{k:02d}.audio.pkl"
        if not path.exists():
            if vad is None:
                from voxprint.vad import SileroVad

                vad = SileroVad()
            path.write_bytes(pickle.dumps(bench.make_conversation(k, pools, vad)))
        mix, turns, chosen, source = pickle.loads(path.read_bytes())
        ref = Annotation(uri=f"sim{k:02d}")
        for a, b, s in turns:
            ref[Segment(a, b)] = s
        uem = Timeline([Segment(0, len(mix) / RATE)])
        sources.append(
            ("sim", f"sim{k:02d}", lambda mix=mix: mix, ref, uem, (turns, chosen, source))
        )
    for kind, uri, load, ref, uem, extra in sources:
        path = cache / f"{uri}.pieces.pkl"
        if not path.exists():
            if segmenter is None:
                segmenter = Segmenter()
            waveform = load()
            engine = Diarizer(segmenter, service.pipeline.encoder, DiarizationConfig())
            chunks = segmenter.segment(waveform, step_seconds=engine.config.step_seconds)
            pieces, speeches, seconds = engine._local_speech(waveform, chunks)
            embeddings = engine._embed(speeches, None)
            path.write_bytes(pickle.dumps((waveform, chunks, pieces, embeddings, seconds)))
        out.append((kind, uri, pickle.loads(path.read_bytes()), ref, uem, extra))
    return out


def anonymous(service: Any, cached: tuple, lever: Lever) -> AnonymousDiarization:
    waveform, chunks, pieces, embeddings, seconds = cached
    config = DiarizationConfig()
    engine = Diarizer(None, service.pipeline.encoder, config)  # type: ignore[arg-type]
    activity = np.zeros((1, 0), dtype=bool)
    tracks: tuple = ()
    if embeddings.shape[0]:
        chosen = np.flatnonzero(seconds >= config.min_cluster_seconds)
        if chosen.size < 2:
            chosen = np.arange(embeddings.shape[0])
        x = embeddings[chosen]
        if lever.method == "agglomerative":
            labels = cluster_embeddings(
                x, threshold=lever.threshold, min_cluster_size=2, count=SpeakerCount()
            )
        else:
            labels = spectral_cluster(
                x,
                count=SpeakerCount(),
                neighbour_fraction=lever.neighbour_fraction,
                min_cluster_size=2,
                merge_cosine=lever.merge_cosine,
                normalized=lever.normalized,
            )
        centroids = centroids_of(x, labels, int(labels.max()) + 1)
        assignment = engine._assign(pieces, embeddings, centroids)
        unit = normalize_rows(embeddings.astype(np.float64))
        for _ in range(lever.refine):
            given = np.array(assignment)
            kept = [k for k in range(centroids.shape[0]) if np.any(given == k)]
            centroids = normalize_rows(
                np.stack([(unit[given == k] * seconds[given == k, None]).sum(0) for k in kept])
            )
            assignment = engine._assign(pieces, embeddings, centroids)
        activity = engine._reconstruct(chunks, pieces, assignment, centroids.shape[0])
        tracks = engine._tracks(activity, chunks)
    return AnonymousDiarization(
        tracks=tracks,
        total_samples=waveform.shape[0],
        sample_rate=RATE,
        frame_step=chunks.frame_step,
        frame_activity=activity,
        chunks=chunks.chunks,
        embeddings=len(pieces),
    )


class _CachedSegmenter:
    version = "cached"


def evaluate(service: Any, enrolled: dict, data: list[tuple], lever: Lever) -> str:
    ami, sim = bench.Scores(), bench.Scores()
    shares = np.zeros(4)
    right = 0
    namer = SpeakerDiarizer(_CachedSegmenter())  # type: ignore[arg-type]
    encoder = service.pipeline.encoder
    for kind, uri, cached, ref, uem, extra in data:
        result = anonymous(service, cached, lever)
        if kind == "ami":
            hyp = Annotation(uri=uri)
            for i, track in enumerate(result.tracks):
                for a, b in track.turns:
                    hyp[Segment(a, b)] = f"speaker {i}"
            ami.add(ref, hyp, uem)
            continue
        turns, chosen, _source = extra
        hyp = Annotation(uri=uri)
        if result.tracks:
            utterances = [
                namer._speaker_utterance(encoder, None, cached[0], result, t) for t in result.tracks
            ]
            named = namer._name(service, result, utterances, None, time.perf_counter())
            hyp = bench.voxprint_annotation(named, uri)
            shares += bench.naming_shares(turns, named, enrolled)
            right += len(named.speakers) == len(chosen)
        sim.add(ref, hyp, uem)
    a, s = ami.row(), sim.row()
    return (
        f"| {lever} | {a['DER none']:.1f} % | {a['missed detection none']:.1f} | "
        f"{a['confusion none']:.1f} | {s['DER none']:.1f} % | {s['confusion none']:.1f} | "
        f"{100 * shares[0] / max(shares[1], 1e-9):.1f} % | "
        f"{100 * shares[2] / max(shares[3], 1e-9):.1f} % | {right}/12 |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/diar-levers"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    service = build_service(
        ServiceOptions(db=args.cache / "gallery.db", enrollment_speech_seconds=10.0)
    )
    root = bench.data_root()
    pools = {
        "ls": bench.speaker_files(root / "librispeech" / "test-other"),
        "so": bench.speaker_files(root / "speechocean762"),
    }
    gallery = args.cache / "enrolled.json"
    if not gallery.exists():
        gallery.write_text(json.dumps(bench.build_gallery(service, pools)))
    enrolled = json.loads(gallery.read_text())
    data = recordings(service, pools, args.cache)
    levers = [Lever(threshold=t) for t in (0.55, 0.6, 0.65, 0.7, 0.75)]
    levers += [Lever(threshold=0.65, refine=r) for r in (1, 2)]
    levers += [
        Lever("spectral", neighbour_fraction=f, merge_cosine=m, normalized=n)
        for f in (0.1, 0.2, 0.25, 0.3, 0.5)
        for n in (False, True)
        for m in (None, 0.6, 0.7, 0.8)
    ]
    print(
        "| clustering | train DER | train miss | train confusion | simulated DER | "
        "simulated confusion | enrolled named | strangers unnamed | count right |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for lever in levers:
        print(evaluate(service, enrolled, data, lever), flush=True)


if __name__ == "__main__":
    main()
