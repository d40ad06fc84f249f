"""Poisoning through the centre, end to end: crafted profiles enrolled beside real ones.

Usage:
    .venv/bin/python bench/centre_poisoning.py [--counts 0 200 600] [--uncentred]

Every enrollable speaker of speechocean762 is enrolled into a fresh SQLite namespace
through the service, from its real CAM++ clips (bench/decision_cache.py's embeddings, as
``enroll_utterance`` takes an embedded clip). Then a key holder enrols N crafted
profiles: three clips each, spread out at random but sharing a component opposite the
namespace's mean voiceprint, the direction that pulls the centre away from what the real
voices share. Reported: the FAR of the domain's real impostor claims (each known probe
against the next speaker's profile, each unknown probe against one profile) through
``verify_utterance`` with rivals, as the REST verify route answers. ``--uncentred``
decides with the prior fitted before voxprint centred cosines, for comparison.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np

from decision_cache import embedded_domain
from voxprint import operating_points
from voxprint.bootstrap import ServiceOptions, build_pipeline, build_service
from voxprint.evaluation.decisions import EmbeddedDomain
from voxprint.evaluation.domains import OpenSetDomain, build_domain
from voxprint.pipeline import EmbeddingPipeline, Utterance
from voxprint.service import VoxprintService
from voxprint.settings import default_data_root
from voxprint.vad import SpeechSegments

RATE = 16000
CRAFTED_HZ = 7600.0


def utterance(embedding: np.ndarray, seconds: float, hz: float, snr: float | None) -> Utterance:
    samples = int(seconds * RATE)
    segments = SpeechSegments(((0, samples),), RATE, samples)
    return Utterance(np.asarray(embedding, np.float32), seconds, seconds, segments, 0.0, hz, snr)


def row_utterance(embedded: EmbeddedDomain, row: int) -> Utterance:
    probe = embedded.probe(row)  # what the decisions see of the row
    hz = RATE / 2 if probe.bandwidth_hz is None else probe.bandwidth_hz
    return utterance(probe.embedding, probe.net_speech_seconds, hz, probe.snr_db)


def far_after(
    count: int,
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    pipeline: EmbeddingPipeline,
    rng: np.random.Generator,
) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        options = ServiceOptions(db=Path(folder) / "v.db", enrollment_speech_seconds=1.0)
        service: VoxprintService = build_service(options, pipeline)
        ids = []
        for speaker in domain.enrollable:
            profile = service.create_profile(speaker)
            for row in embedded.rows(domain.enrolment[speaker]):
                service.enroll_utterance(profile.id, row_utterance(embedded, int(row)))
            ids.append(profile.id)
        voiceprints = np.stack([service.get_profile(i).voiceprint for i in ids])
        direction = voiceprints.mean(axis=0)
        direction /= np.linalg.norm(direction)
        for n in range(count):
            profile = service.create_profile(f"crafted-{n}")
            for _ in range(3):
                spread = rng.normal(size=direction.size)
                spread /= np.linalg.norm(spread)
                clip = -0.5 * direction + math.sqrt(0.75) * spread
                clip /= np.linalg.norm(clip)
                service.enroll_utterance(profile.id, utterance(clip, 10.0, CRAFTED_HZ, None))
        accepted = 0
        for key in domain.probes:
            row = int(embedded.rows([key])[0])
            speaker = domain.speaker_of[key]
            own = domain.enrollable.index(speaker) if speaker in domain.enrolment else -1
            claimed = (own + 1) % len(ids) if own >= 0 else row % len(ids)
            result = service.verify_utterance(
                service.get_profile(ids[claimed]), row_utterance(embedded, row), record=False
            )
            accepted += result.decision.value == "accept"
        return accepted / len(domain.probes), len(domain.probes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 200, 600])
    parser.add_argument("--uncentred", action="store_true")
    args = parser.parse_args()
    if args.uncentred:
        operating_points.DEFAULT_PRIORS["campplus"] = operating_points.UNCENTRED_PRIORS["campplus"]
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    domain = build_domain("speechocean762", default_data_root())
    embedded = embedded_domain(domain, pipeline)
    rng = np.random.default_rng(0)
    prior = "uncentred prior" if args.uncentred else "centred (the default)"
    print(f"| crafted profiles | FAR of real impostor claims, {prior} |")
    print("|---|---|")
    for count in args.counts:
        far, claims = far_after(count, domain, embedded, pipeline, rng)
        print(f"| {count} | {100 * far:.1f} % of {claims} |", flush=True)


if __name__ == "__main__":
    main()
