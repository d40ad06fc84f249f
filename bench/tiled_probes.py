"""Tried and not kept: short speech repeated until it lasts a few seconds, before embedding.

Usage:
    .venv/bin/python bench/tiled_probes.py [--domain speechcommands] [--seconds 3.0]

Some toolkits pad a short utterance by repeating it. Every enrolment clip and probe of a
decision-benchmark domain is embedded twice from the same detected speech: as it is, and
repeated to at least ``--seconds``. Every probe is scored against every enrollable
speaker's voiceprint (the mean of their clips' embeddings); the figures are
threshold-free: the equal error rate, the owners refused at the cosine that lets 1 % of
strangers' trials in, and how often the owner is the best-scoring profile.
"""

from __future__ import annotations

import argparse

import numpy as np

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.errors import NoSpeechError
from voxprint.evaluation.datasets import load_item
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root


def figures(domain: OpenSetDomain, keys: list[str], embeddings: np.ndarray) -> str:
    row = {k: i for i, k in enumerate(keys)}
    speakers = list(domain.enrollable)
    voiceprints = l2_normalise(
        np.stack([embeddings[[row[k] for k in domain.enrolment[s]]].mean(0) for s in speakers])
    )
    owners, strangers, best, known = [], [], 0, 0
    for key in domain.probes:
        cosines = voiceprints @ embeddings[row[key]]
        speaker = domain.speaker_of[key]
        if speaker in domain.enrolment:
            own = speakers.index(speaker)
            owners.append(cosines[own])
            strangers.extend(np.delete(cosines, own))
            best += int(np.argmax(cosines) == own)
            known += 1
        else:
            strangers.extend(cosines)
    target, other = np.sort(owners), np.sort(strangers)
    bars = np.concatenate([target, other])
    refused = np.searchsorted(target, bars) / len(target)
    admitted = 1 - np.searchsorted(other, bars) / len(other)
    at = int(np.argmin(np.abs(refused - admitted)))
    eer = 50 * (refused[at] + admitted[at])
    frr = 100 * np.mean(target < np.quantile(other, 0.99))
    return f"{eer:.2f} % | {frr:.1f} % | {100 * best / known:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="speechcommands", choices=list(DOMAINS))
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    encoder, rate = pipeline.encoder, pipeline.encoder.sample_rate
    domain = build_domain(args.domain, default_data_root())
    keys, plain, tiled = [], [], []
    for item in domain.used_items():
        waveform = load_item(item, sample_rate=rate)
        try:
            utterance = pipeline.process_waveform(waveform, force=True)
            speech = utterance.segments.extract(waveform)
        except NoSpeechError:
            speech = waveform
        if len(speech) < 0.2 * rate:
            speech = waveform
        wanted = max(len(speech), int(args.seconds * rate))
        plain.append(encoder.embed(speech))
        tiled.append(encoder.embed(np.tile(speech, -(-wanted // len(speech)))[:wanted]))
        keys.append(item.key)
    print("| speech embedded | EER | owners refused at 1 % of strangers | owner best |")
    print("|---|---|---|---|")
    print(f"| as detected | {figures(domain, keys, np.stack(plain))} |")
    print(f"| repeated to {args.seconds:g} s | {figures(domain, keys, np.stack(tiled))} |")


if __name__ == "__main__":
    main()
