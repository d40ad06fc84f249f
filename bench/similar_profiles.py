"""How often the enrolment's similar-voice warning fires: false alarms between different
speakers, and the same speaker enrolled twice, per domain.

Usage:
    .venv/bin/python bench/similar_profiles.py [--model campplus] [--domains NAME ...]

For every domain of ``voxprint.evaluation.domains.DOMAINS`` (embeddings from
bench/decision_cache.py's cache), every enrollable speaker is enrolled as the decision
benchmark does, and the service's own rule (:func:`voxprint.similar_voices.similar_voices`)
is applied as the service applies it: when a profile becomes enrolled, against the other
profiles, under the operating point adapted to the namespace *before* it joined.

* **different speakers**: each profile in turn is the one just enrolled, with every other
  enrollable speaker already there; it is *warned* when the rule finds any of them similar.
  The share of profiles warned is the false-alarm rate.
* **the same speaker twice**: after every enrollable speaker, each is enrolled a second
  time from its own known probes (as many clips as its enrolment, the rest of its probes
  when fewer); the share of these duplicates that the rule finds similar to the speaker's
  first profile is what the warning catches.

* **two profiles** (the first two enrolments of a namespace, decided with the built-in
  prior alone): every ordered pair of different enrollable speakers, and every duplicate
  against its speaker's first profile, at the service's bar.

Columns are given at several bars (standard deviations above the impostor mean); the
service's is :data:`voxprint.similar_voices.SIMILAR_VOICE_Z`.
"""

from __future__ import annotations

import argparse

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import Band, clips_band, pair_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import OperatingPoint
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain, domain_group
from voxprint.operating_points import DEFAULT_PRIORS, ScoringPrior
from voxprint.scoring.llr import ConditionModel
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root
from voxprint.similar_voices import SIMILAR_VOICE_Z, similar_voices

BARS = (4.0, 4.5, 5.0)


def _voiceprint(embedded: EmbeddedDomain, keys: list[str]) -> tuple[np.ndarray, Band | None]:
    """The averaged voiceprint ``(dim,) float32`` of ``keys`` and the band of its clips (as
    the service takes it, ``clips_band``)."""
    rows = embedded.rows(keys)
    voiceprint = l2_normalise(embedded.embeddings[rows].astype(np.float64).mean(axis=0))
    return voiceprint.astype(np.float32), clips_band(
        [float(b) for b in embedded.bandwidth_hz[rows]]
    )


def _found(
    point,
    own: Band | None,
    voiceprint: np.ndarray,
    others: np.ndarray,
    other_bands: list[Band | None],
) -> float:
    """The largest z among the similar voices at the lowest bar (-inf: none), each pair
    judged in its own band as the service judges it."""
    bands = [pair_band(own or Band.WIDE, other) for other in other_bands]
    found = similar_voices(point, bands, voiceprint, others, z=min(BARS))
    return max((v.z for v in found), default=-np.inf)


def _bar(point: OperatingPoint, band: Band) -> float | None:
    """The cosine a pair needs to be similar voices in ``band`` under ``point``."""
    model = point.model(band)
    if not isinstance(model, ConditionModel):
        return None
    return model.impostors.mean + SIMILAR_VOICE_Z * model.impostors.std


def measure(domain: OpenSetDomain, embedded: EmbeddedDomain, prior: ScoringPrior) -> str:
    speakers = list(domain.enrollable)
    profiles, _ = gallery_profiles(domain, embedded, speakers)
    firsts = [_voiceprint(embedded, list(domain.enrolment[s])) for s in speakers]
    prints = np.stack([v for v, _ in firsts])
    bands = [b for _, b in firsts]
    warned = []
    for i in range(len(speakers)):
        rest = [j for j in range(len(speakers)) if j != i]
        before = gallery_operating_point(prior, [profiles[j] for j in rest])
        found = _found(before, bands[i], firsts[i][0], prints[rest], [bands[j] for j in rest])
        warned.append(found)
    everyone = gallery_operating_point(prior, profiles)
    alone = prior.operating_point()
    twice = {
        i: _voiceprint(embedded, own[: len(domain.enrolment[speaker])])
        for i, speaker in enumerate(speakers)
        if (own := [k for k in domain.probes if domain.speaker_of[k] == speaker])
    }
    caught = [
        _found(everyone, band, v, prints[i : i + 1], [bands[i]]) for i, (v, band) in twice.items()
    ]
    dup_alone = [
        _found(alone, band, v, prints[i : i + 1], [bands[i]]) for i, (v, band) in twice.items()
    ]
    pairs = [
        _found(alone, bands[i], firsts[i][0], prints[j : j + 1], [bands[j]])
        for i in range(len(speakers))
        for j in range(len(speakers))
        if i != j
    ]
    narrow = sum(b is Band.NARROW for b in bands)
    home = Band.NARROW if 2 * narrow > len(bands) else Band.WIDE  # most profiles' band
    bars = [_bar(point, home) for point in (everyone, alone)]
    w, c = np.array(warned), np.array(caught)
    p, d = np.array(pairs), np.array(dup_alone)
    cells = [
        domain.name,
        str(len(speakers)),
        *(f"{100 * np.mean(w >= bar):.1f} %" for bar in BARS),
        str(c.size),
        *(f"{100 * np.mean(c >= bar):.1f} %" for bar in BARS),
        f"{100 * np.mean(p >= SIMILAR_VOICE_Z):.2f} % of {p.size}",
        f"{100 * np.mean(d >= SIMILAR_VOICE_Z):.1f} %",
        " / ".join("-" if b is None else f"{b:.2f}" for b in bars),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    parser.add_argument("--model", default="campplus")
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    root = default_data_root()
    prior = DEFAULT_PRIORS[args.model]
    header = (
        "| domain | profiles | "
        + " | ".join(f"warned at {bar} sd" for bar in BARS)
        + " | duplicates | "
        + " | ".join(f"caught at {bar} sd" for bar in BARS)
        + " | two profiles: pairs warned | two profiles: duplicates caught"
        + " | cosine bar at 4.5 sd: all enrolled / prior |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for name in args.domains:
        domain = build_domain(name, root)
        embedded = embedded_domain(domain, pipeline)
        parts = [domain]
        if domain.groups:
            parts += [domain_group(domain, g) for g in sorted(set(domain.groups.values()))]
        for part in parts:
            print(measure(part, embedded, prior), flush=True)


if __name__ == "__main__":
    main()
