"""Fit the GE2E centre of the ``campplus+ge2e`` encoder on every development domain.

Usage:
    .venv/bin/python bench/fit_fusion.py [--check] [--timing]

Embeds (or reads from bench/decision_cache.py's cache) every clip of every domain of
``voxprint.evaluation.domains.DOMAINS`` with GE2E as the fused encoder runs it (the
pipeline's default speech context, not GE2E's own tighter one), averages the embeddings
of each data source (each source weighted equally; the noisy copies of LibriSpeech are
left out), and writes the mean to ``src/voxprint/encoders/ge2e_centre.npy``. Then prints,
per domain, the equal error rate of CAM++ alone, centred GE2E alone and the fusion at
several GE2E weights (probes against enrolled speakers' averaged voiceprints).
``--timing`` instead times one embedding of 1, 3 and 10 s of LibriSpeech speech with
CAM++, GE2E and the fusion (median of 20 calls after 3 warm-up calls, on this CPU).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from decision_cache import embedded_domain
from voxprint.audio import load_audio
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.encoders import load_encoder
from voxprint.encoders.registry import GE2E_CENTRE_FILE
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root

#: Conditions made by mixing noise into another domain's clips: not a source of their own.
DERIVED = ("noise-5dB", "noise-0dB")


@dataclass(frozen=True)
class _WideContextGe2e:
    """GE2E under another version name, so that its cache (default speech context) is kept
    apart from GE2E's own (tighter context)."""

    inner: object

    name = "ge2e"

    @property
    def version(self) -> str:
        return f"{self.inner.version}-default-context"  # type: ignore[attr-defined]

    @property
    def sample_rate(self) -> int:
        return int(self.inner.sample_rate)  # type: ignore[attr-defined]

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)  # type: ignore[attr-defined]

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return self.inner.embed(waveform)  # type: ignore[attr-defined,no-any-return]


def _scores(domain: OpenSetDomain, keys: tuple[str, ...], rows: np.ndarray):
    index = {key: i for i, key in enumerate(keys)}
    speakers = sorted(domain.enrolment)
    prints = l2_normalise(
        np.stack([rows[[index[k] for k in domain.enrolment[s]]].mean(0) for s in speakers])
    )
    probes = l2_normalise(rows[[index[p] for p in domain.probes]])
    same = np.array(
        [[domain.speaker_of[p] == s for s in speakers] for p in domain.probes], dtype=bool
    )
    return probes @ prints.T, same


def _timing(root: Path) -> None:
    clip = next(iter(sorted((root / "librispeech" / "test-other").rglob("*.flac"))))
    speech = load_audio(clip)
    while speech.size < 10 * 16000:
        speech = np.concatenate([speech, speech])
    encoders = {name: load_encoder(name) for name in ("campplus", "ge2e", "campplus+ge2e")}
    print("| clip | " + " | ".join(encoders) + " |")
    print("|---|" + "---|" * len(encoders))
    for seconds in (1, 3, 10):
        part = speech[: seconds * 16000]
        cells = []
        for encoder in encoders.values():
            for _ in range(3):
                encoder.embed(part)
            times = []
            for _ in range(20):
                start = time.perf_counter()
                encoder.embed(part)
                times.append(time.perf_counter() - start)
            cells.append(f"{1000 * statistics.median(times):.1f} ms")
        print(f"| {seconds} s | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report only; keep the file")
    parser.add_argument("--timing", action="store_true", help="time the encoders only")
    args = parser.parse_args()
    root = default_data_root()
    if args.timing:
        _timing(root)
        return
    domains = {name: build_domain(name, root) for name in DOMAINS}
    ge2e = EmbeddingPipeline(_WideContextGe2e(load_encoder("ge2e")), config=PipelineConfig())
    campplus = build_pipeline(ServiceOptions(model="campplus"))
    g = {name: embedded_domain(d, ge2e) for name, d in domains.items()}  # type: ignore[arg-type]
    c = {name: embedded_domain(d, campplus) for name, d in domains.items()}
    by_source: dict[str, list[np.ndarray]] = {}
    for name, d in domains.items():
        if name not in DERIVED:
            by_source.setdefault(d.family, []).append(g[name].embeddings.astype(np.float64))
    centre = np.mean([np.concatenate(rows).mean(axis=0) for rows in by_source.values()], axis=0)
    centre = centre.astype(np.float32)
    if not args.check:
        np.save(GE2E_CENTRE_FILE, centre)
        print(f"wrote {GE2E_CENTRE_FILE} (norm {np.linalg.norm(centre):.3f})")
    weights = (0.2, 0.3, 0.4)
    print("| domain | CAM++ | GE2E centred | " + " | ".join(f"fused {w}" for w in weights) + " |")
    print("|---|---|---|" + "---|" * len(weights))
    for name, d in domains.items():
        cam, same = _scores(d, c[name].keys, c[name].embeddings.astype(np.float64))
        centred = l2_normalise(g[name].embeddings.astype(np.float64) - centre)
        gen, _ = _scores(d, g[name].keys, centred)
        cells = [
            equal_error_rate(cam[same], cam[~same])[0],
            equal_error_rate(gen[same], gen[~same])[0],
        ]
        for w in weights:
            fused = (1 - w) * cam + w * gen
            cells.append(equal_error_rate(fused[same], fused[~same])[0])
        print(f"| {name} | " + " | ".join(f"{100 * e:.2f} %" for e in cells) + " |")


if __name__ == "__main__":
    main()
