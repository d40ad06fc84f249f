"""The namespace's own profiles as each probe's cohort: does it name more at the same rejection?

Usage:
    .venv/bin/python bench/gallery_cohort.py [--domains NAME ...] [--tau 0.03 0.06]

Every enrollable speaker of a domain is enrolled (bench/decision_cache.py's embeddings).
Part 1, what the scores allow (no decision rule): per statistic of a probe's cosines with
the gallery, the share of known probes whose best profile is their own and whose statistic
beats the bar that answers 95 % of unknown probes "unknown" (the bar chosen per domain with
the answers known: an upper bound). Statistics: the best cosine; the best minus the mean
of the next 5 or 20 (probe-side normalisation against the gallery); S-norm with the
gallery as cohort on both sides.

Part 2, through the service's Scorer: before the log-likelihood ratios, a probe's cosines
are lowered by its own impostor level, estimated from its cosines with every profile but
its best one and shrunk towards the model's impostor mean (a normal model whose
probe-to-probe spread is ``tau``; 0 = the service as it is). Reported like
bench/decisions.py: unknown probes answered unknown and known probes named.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import Band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation import decisions
from voxprint.evaluation.decisions import EmbeddedDomain, gallery_profiles
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Probe, Scorer
from voxprint.settings import default_data_root

REJECTION = 0.95
DEFAULT_DOMAINS = (
    "tc100-halves",
    "tel-8k",
    "noise-5dB",
    "noise-0dB",
    "fsdd",
    "fsdd-pin",
    "speechocean762",
    "speechcommands",
)


def _next_mean(scores: np.ndarray, k: int) -> np.ndarray:
    ordered = np.sort(scores, axis=1)
    return np.asarray(ordered[:, -k - 1 : -1].mean(axis=1))


def allowed(domain: OpenSetDomain, embedded: EmbeddedDomain) -> list[str]:
    """Part 1: named at 95 % rejection per statistic (upper bounds)."""
    profiles, _ = gallery_profiles(domain, embedded, domain.enrollable)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    n = len(profiles)
    clips = np.concatenate([p.embeddings for p in profiles])
    owner = np.concatenate([[i] * len(p.embeddings) for i, p in enumerate(profiles)])
    clip_scores = clips @ voiceprints.T
    others = owner[:, None] != np.arange(n)[None, :]
    enrol_mean = np.array([clip_scores[others[:, j], j].mean() for j in range(n)])
    enrol_std = np.array([clip_scores[others[:, j], j].std() for j in range(n)])
    known = [k for k in domain.probes if domain.speaker_of[k] in domain.enrolment]
    unknown = [k for k in domain.probes if domain.speaker_of[k] not in domain.enrolment]
    truth = np.array([domain.enrollable.index(domain.speaker_of[k]) for k in known])
    known_scores = embedded.embeddings[embedded.rows(known)] @ voiceprints.T
    unknown_scores = embedded.embeddings[embedded.rows(unknown)] @ voiceprints.T

    def snorm(s: np.ndarray) -> np.ndarray:
        probe_side = (s - s.mean(axis=1, keepdims=True)) / s.std(axis=1, keepdims=True)
        return np.asarray(0.5 * (probe_side + (s - enrol_mean) / enrol_std))

    statistics: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "best cosine (the service's basis)": lambda s: s.max(axis=1),
        "best - mean of the next 5": lambda s: s.max(axis=1) - _next_mean(s, 5),
        "best - mean of the next 20": lambda s: s.max(axis=1) - _next_mean(s, 20),
        "S-norm, gallery cohort": lambda s: snorm(s).max(axis=1),
    }
    rows = []
    for label, statistic in statistics.items():
        normalised = snorm if label.startswith("S-norm") else (lambda s: s)
        right = normalised(known_scores).argmax(axis=1) == truth
        strangers = np.sort(statistic(unknown_scores))[::-1]
        bar = strangers[int((1 - REJECTION) * strangers.size)]
        named = float(np.mean(right & (statistic(known_scores) > bar)))
        rows.append(f"| {domain.name} | {n} | {label} | {100 * named:.1f} % |")
    return rows


def shifted_scorer(tau: float) -> type[Scorer]:
    """A Scorer whose identification lowers each probe's cosines by its own impostor
    level (see the module docstring)."""

    class GalleryCohortScorer(Scorer):
        def _llrs(
            self, probe: Probe, values: np.ndarray, enrol_seconds: np.ndarray, band: Band
        ) -> np.ndarray:
            model = self.point.model(band)
            seconds, snr = probe.net_speech_seconds, probe.snr_db
            if tau <= 0 or values.size < 3:
                return model.llr(values, seconds, enrol_seconds, snr)
            others = np.sort(values)[:-1]
            expected = float(model.impostor_mean(seconds))
            weight = others.size * tau**2 / (others.size * tau**2 + model.impostors.std**2)
            shift = weight * (float(others.mean()) - expected)
            return model.llr(values - shift, seconds, enrol_seconds, snr)

    return GalleryCohortScorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DEFAULT_DOMAINS), choices=DOMAINS)
    parser.add_argument("--tau", type=float, nargs="+", default=[0.03, 0.06])
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    prior = DEFAULT_PRIORS["campplus"]
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in args.domains}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}
    print("| domain | gallery | statistic | named at 95 % of strangers unknown (best bar) |")
    print("|---|---|---|---|")
    for name, domain in domains.items():
        print("\n".join(allowed(domain, embedded[name])))
    print()
    print("| domain | gallery | tau | unknown → unknown | named right | too little speech |")
    print("|---|---|---|---|---|---|")
    service_scorer = decisions.Scorer
    try:
        for tau in [0.0, *args.tau]:
            decisions.Scorer = shifted_scorer(tau)  # type: ignore[misc]
            for name, domain in domains.items():
                for r in decisions.evaluate_domain(domain, embedded[name], prior, sizes=(10, 0)):
                    print(
                        f"| {name} | {r.gallery_size} | {tau:g} | "
                        f"{100 * r.unknown_rejected:.1f} % | {100 * r.named:.1f} % | "
                        f"{100 * r.insufficient:.1f} % |"
                    )
    finally:
        decisions.Scorer = service_scorer  # type: ignore[misc]


if __name__ == "__main__":
    main()
