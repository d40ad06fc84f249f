"""Embeddings of every decision-benchmark domain, cached on disk per encoder version.

Usage (the decision benchmark calls it; run alone to warm the cache):
    .venv/bin/python bench/decision_cache.py [--domains NAME ...]

Each used item of a domain (enrolment clips and probes) goes through the service's own
pipeline (``bootstrap.build_pipeline``: Silero VAD, CAM++ with the default runtime),
forced so that short probes are embedded too, and keeps what the decision layer can see
at run time: the embedding, the net speech, the audio length, the clip's SNR (between
pauses, as enrolment measures it; NaN without pauses) and its level SNR (as scoring
measures it).
The cache lives in ``reports/decision-cache/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.errors import NoSpeechError
from voxprint.evaluation.datasets import load_item
from voxprint.evaluation.decisions import EmbeddedDomain
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.pipeline import EmbeddingPipeline
from voxprint.quality import estimate_snr, level_snr, speech_bandwidth
from voxprint.settings import default_data_root
from voxprint.vad import SpeechSegments

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "reports" / "decision-cache"


@dataclass(frozen=True)
class DomainEmbeddings:
    """Row ``i`` describes ``keys[i]``: ``embeddings`` is ``(n, dim) float32``;
    ``snr_db`` is NaN where the clip had no pause to measure noise on."""

    keys: tuple[str, ...]
    embeddings: np.ndarray
    net_speech: np.ndarray
    audio_seconds: np.ndarray
    snr_db: np.ndarray
    bandwidth_hz: np.ndarray
    level_snr_db: np.ndarray

    def rows(self, keys: list[str] | tuple[str, ...]) -> np.ndarray:
        index = {k: i for i, k in enumerate(self.keys)}
        return np.array([index[k] for k in keys], dtype=np.int64)


def _cache_path(domain: OpenSetDomain, encoder_version: str) -> Path:
    keys = "\n".join(item.key for item in domain.used_items())
    # v4: speech bandwidth from the median spectrum over frames (2026-12-07).
    # v6: the voice detector hears quiet audio raised to 0.1 (2026-12-07; v5: to 0.5).
    digest = hashlib.sha256(f"v6\n{encoder_version}\n{keys}".encode()).hexdigest()[:12]
    return CACHE / f"{domain.name}-{digest}.npz"


def embed_domain(domain: OpenSetDomain, pipeline: EmbeddingPipeline) -> DomainEmbeddings:
    """Embed (or read from the cache) every enrolment clip and probe of ``domain``."""
    path = _cache_path(domain, pipeline.encoder.version)
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return DomainEmbeddings(
            tuple(str(k) for k in data["keys"]),
            data["embeddings"],
            data["net_speech"],
            data["audio_seconds"],
            data["snr_db"],
            data["bandwidth_hz"],
            data["level_snr_db"],
        )
    rate = pipeline.encoder.sample_rate
    items = domain.used_items()
    vectors, speech, audio, snr, bandwidth, level = [], [], [], [], [], []
    started = time.perf_counter()
    for done, item in enumerate(items, start=1):
        waveform = load_item(item, sample_rate=rate)
        try:
            utterance = pipeline.process_waveform(waveform, force=True)
            segments = utterance.segments
            vectors.append(utterance.embedding)
        except NoSpeechError:
            segments = SpeechSegments((), rate, len(waveform))
            vectors.append(pipeline.encoder.embed(waveform))
        speech.append(segments.net_speech_seconds)
        audio.append(len(waveform) / rate)
        measured = estimate_snr(waveform, segments) if segments.segments else None
        snr.append(np.nan if measured is None else measured)
        bandwidth.append(speech_bandwidth(waveform, segments))
        measured_level = level_snr(waveform, rate)
        level.append(np.nan if measured_level is None else measured_level)
        if done % 100 == 0:
            print(
                f"  {domain.name}: {done}/{len(items)} in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    result = DomainEmbeddings(
        tuple(item.key for item in items),
        np.stack(vectors).astype(np.float32),
        np.array(speech),
        np.array(audio),
        np.array(snr),
        np.array(bandwidth),
        np.array(level),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        keys=np.array(result.keys),
        embeddings=result.embeddings,
        net_speech=result.net_speech,
        audio_seconds=result.audio_seconds,
        snr_db=result.snr_db,
        bandwidth_hz=result.bandwidth_hz,
        level_snr_db=result.level_snr_db,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    parser.add_argument("--model", default="campplus")
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    root = default_data_root()
    for name in args.domains:
        started = time.perf_counter()
        embedded = embed_domain(build_domain(name, root), pipeline)
        print(f"{name}: {len(embedded.keys)} items in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()


def embedded_domain(domain: OpenSetDomain, pipeline: EmbeddingPipeline) -> EmbeddedDomain:
    """The cached embeddings of ``domain`` in the form the decision benchmark reads."""
    cached = embed_domain(domain, pipeline)
    return EmbeddedDomain(
        cached.keys,
        cached.embeddings,
        cached.net_speech,
        cached.bandwidth_hz,
        cached.level_snr_db,
    )
