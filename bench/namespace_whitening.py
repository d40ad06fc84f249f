"""Centring or whitening embeddings on the namespace's enrolled clips: does it separate more?

Usage:
    .venv/bin/python bench/namespace_whitening.py [--domains NAME ...] [--draws 5]

A lever issue 11 lists: a namespace's enrolled clips are labelled data from the user's own
audio, so a transform fitted on them alone (never on probes) could adapt the embedding
space itself, not only the operating point. For each domain (bench/decision_cache.py's
embeddings), a gallery of 10 drawn speakers and one of every enrollable speaker is
enrolled; every transform is fitted on that gallery's enrolment clips only:

- ``none``: the service's cosine;
- ``centred``: the mean of the enrolment clips subtracted, then L2-normalised again;
- ``WCCN a``: centred, then whitened by the within-profile covariance of the enrolment
  clips, shrunk towards a multiple of the identity with weight ``a`` (1 = centred only;
  profiles of one clip each leave it centred only);
- ``whitened a``: centred, then whitened by the enrolment clips' total covariance, shrunk
  the same way.

Voiceprints are the normalised means of the transformed clips. Reported per domain and
gallery, with no decision rule (the bars are chosen with the answers known, so these are
what the scores allow, not what the service answers):

- ``named``: the share of known probes whose best profile is their own and whose best
  score beats the bar that answers 95 % of unknown probes "unknown";
- ``EER``: verification claims of every probe against its own profile (known probes) and
  against every other profile (known and unknown probes).

A second table gives, with every enrollable speaker enrolled, where the non-target and
target scores sit with and without centring: one impostor model fits every domain only if
the non-target scores sit alike.

With ``--decisions``, a third table answers through the service's Scorer (as
bench/decisions.py does), every enrollable speaker enrolled: the shipped prior on the
embeddings as they are, against a prior refitted the same way (``fit_prior``, every
domain, thresholds kept) on embeddings centred on each domain's enrolment clips, shrunk
towards the shipped mean. The raw embeddings get the same refit too, so that the refit
alone is not mistaken for the centring's gain. An estimate of what building centring into
the service would give, not the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation import decisions
from voxprint.evaluation.decisions import EmbeddedDomain
from voxprint.evaluation.domains import DOMAINS, OpenSetDomain, build_domain
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.settings import default_data_root

REJECTION = 0.95
DEFAULT_DOMAINS = (
    "tc100-halves",
    "tel-8k",
    "noise-0dB",
    "fsdd",
    "speechocean762",
    "speechcommands",
    "ami",
)
SPREAD = ("none", "centred, 5 towards shipped")
Transform = Callable[[np.ndarray], np.ndarray]


def _normalise(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float64)


def _inverse_root(covariance: np.ndarray, shrink: float) -> np.ndarray:
    dim = covariance.shape[0]
    target = np.trace(covariance) / dim * np.eye(dim)
    shrunk = (1 - shrink) * covariance + shrink * target
    values, vectors = np.linalg.eigh(shrunk)
    return np.asarray(vectors @ np.diag(values**-0.5) @ vectors.T)


def fit(
    kind: str,
    shrink: float,
    clips: Sequence[np.ndarray],
    prior_mean: np.ndarray | None = None,
    kappa: float = 0.0,
) -> Transform:
    """A transform fitted on the enrolment clips of each profile, ``clips[i]`` ``(k_i, dim)``.

    The mean subtracted is the profiles' mean (each profile weighted equally), shrunk
    towards ``prior_mean`` as if it were ``kappa`` more profiles."""
    if kind == "none":
        return _normalise
    stacked = np.concatenate(clips)
    profile_means = np.stack([c.mean(axis=0) for c in clips])
    mean = profile_means.mean(axis=0)
    if prior_mean is not None:
        n = len(clips)
        mean = (n * mean + kappa * prior_mean) / (n + kappa)
    if kind == "centred":
        return lambda x: _normalise(x - mean)
    if kind == "WCCN":
        several = [c - c.mean(axis=0) for c in clips if len(c) > 1]
        if not several:  # one clip per profile: nothing within a profile to whiten
            return lambda x: _normalise(x - mean)
        residuals = np.concatenate(several)
        covariance = residuals.T @ residuals / len(residuals)
    else:
        centred = stacked - mean
        covariance = centred.T @ centred / len(centred)
    root = _inverse_root(covariance, shrink)
    return lambda x: _normalise((x - mean) @ root)


@dataclass(frozen=True)
class Trial:
    named: float
    eer: float
    impostor_mean: float
    impostor_std: float
    target_mean: float


def judge(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    speakers: Sequence[str],
    transform_of: Callable[[Sequence[np.ndarray]], Transform],
) -> Trial:
    clips = [embedded.embeddings[embedded.rows(domain.enrolment[s])] for s in speakers]
    transform = transform_of(clips)
    voiceprints = np.stack([_normalise(transform(c).mean(axis=0)) for c in clips])
    enrolled = set(speakers)
    known = [k for k in domain.probes if domain.speaker_of[k] in enrolled]
    unknown = [k for k in domain.probes if domain.speaker_of[k] not in enrolled]
    truth = np.array([speakers.index(domain.speaker_of[k]) for k in known])
    known_scores = transform(embedded.embeddings[embedded.rows(known)]) @ voiceprints.T
    unknown_scores = transform(embedded.embeddings[embedded.rows(unknown)]) @ voiceprints.T
    strangers = np.sort(unknown_scores.max(axis=1))[::-1]
    bar = strangers[int((1 - REJECTION) * strangers.size)]
    right = known_scores.argmax(axis=1) == truth
    named = float(np.mean(right & (known_scores.max(axis=1) > bar)))
    own = np.zeros_like(known_scores, dtype=bool)
    own[np.arange(len(known)), truth] = True
    targets = known_scores[own]
    nontargets = np.concatenate([known_scores[~own], unknown_scores.ravel()])
    eer, _ = equal_error_rate(targets, nontargets)
    return Trial(
        named, eer, float(nontargets.mean()), float(nontargets.std()), float(targets.mean())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DEFAULT_DOMAINS), choices=DOMAINS)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument(
        "--decisions", action="store_true", help="also answer through the service's Scorer"
    )
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in args.domains}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}
    centres = {
        name: embedded[name]
        .embeddings[embedded[name].rows([k for keys in d.enrolment.values() for k in keys])]
        .mean(axis=0)
        for name, d in domains.items()
    }
    print("named at 95 % of strangers unknown (best bar) / EER; 2 and 10: mean over draws")
    print()
    header = None
    spread: list[str] = []
    for name, domain in domains.items():
        # the shipped mean: every other family's enrolment clips, each domain weighted equally
        others = [c for n, c in centres.items() if domains[n].family != domain.family]
        shipped = np.mean(others, axis=0)
        transforms: dict[str, Callable[[Sequence[np.ndarray]], Transform]] = {
            "none": lambda c: fit("none", 0.0, c),
            "shipped mean": lambda c, m=shipped: fit("centred", 0.0, c, m, 1e9),
            "centred": lambda c: fit("centred", 0.0, c),
            "centred, 5 towards shipped": lambda c, m=shipped: fit("centred", 0.0, c, m, 5.0),
            "WCCN 0.9, 5 towards shipped": lambda c, m=shipped: fit("WCCN", 0.9, c, m, 5.0),
            "whitened 0.9": lambda c: fit("whitened", 0.9, c),
        }
        if header is None:
            header = "| domain | gallery | " + " | ".join(transforms) + " |"
            print(header)
            print("|---|---|" + "---|" * len(transforms))
        speakers = list(domain.enrollable)
        rng = np.random.default_rng(0)
        galleries = [
            [sorted(rng.choice(speakers, size, replace=False)) for _ in range(args.draws)]
            for size in (2, 10)
            if len(speakers) > size
        ] + [[speakers]]
        for draws in galleries:
            cells = []
            for transform_of in transforms.values():
                trials = [judge(domain, embedded[name], list(g), transform_of) for g in draws]
                named = np.mean([t.named for t in trials])
                eer = np.mean([t.eer for t in trials])
                cells.append(f"{100 * named:.1f} / {100 * eer:.2f} %")
            print(f"| {name} | {len(draws[0])} | " + " | ".join(cells) + " |")
        whole = [judge(domain, embedded[name], speakers, transforms[k]) for k in SPREAD]
        spread.append(
            f"| {name} | "
            + " | ".join(
                f"{t.impostor_mean:.2f} ± {t.impostor_std:.2f} / {t.target_mean:.2f}" for t in whole
            )
            + " |"
        )
    print()
    print("every enrollable speaker enrolled: non-target scores mean ± sd / target mean")
    print()
    print("| domain | " + " | ".join(SPREAD) + " |")
    print("|---|" + "---|" * len(SPREAD))
    print("\n".join(spread))
    if args.decisions:
        print()
        print(through_decisions(domains, embedded, centres))


def centred_domain(
    domain: OpenSetDomain, embedded: EmbeddedDomain, shipped: np.ndarray
) -> EmbeddedDomain:
    """``embedded`` centred on ``domain``'s enrolment clips of every enrollable speaker
    (the "centred, 5 towards shipped" transform), re-normalised."""
    clips = [embedded.embeddings[embedded.rows(domain.enrolment[s])] for s in domain.enrollable]
    transform = fit("centred", 0.0, clips, shipped, 5.0)
    return replace(embedded, embeddings=transform(embedded.embeddings).astype(np.float32))


def through_decisions(
    domains: dict[str, OpenSetDomain],
    embedded: dict[str, EmbeddedDomain],
    centres: dict[str, np.ndarray],
) -> str:
    shipped_prior = DEFAULT_PRIORS["campplus"]
    centred = {}
    for name, domain in domains.items():
        others = [c for n, c in centres.items() if domains[n].family != domain.family]
        centred[name] = centred_domain(domain, embedded[name], np.mean(others, axis=0))
    fitted = {
        label: decisions.fit_prior(
            [decisions.domain_trials(domains[n], space[n]) for n in domains],
            source=label,
            base=shipped_prior,
        )
        for label, space in (("raw", embedded), ("centred", centred))
    }
    runs = (
        ("shipped prior", embedded, shipped_prior),
        ("refitted, raw", embedded, fitted["raw"]),
        ("refitted, centred", centred, fitted["centred"]),
    )
    lines = [
        "every enrollable speaker enrolled; unknown → unknown / named / FAR / FRR / ECE",
        "",
        "| domain | gallery | " + " | ".join(label for label, _, _ in runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for name, domain in domains.items():
        cells, size = [], 0
        for _, space, prior in runs:
            (r,) = decisions.evaluate_domain(domain, space[name], prior, sizes=(0,))
            size = r.gallery_size
            cells.append(
                f"{100 * r.unknown_rejected:.1f} / {100 * r.named:.1f} / {100 * r.far:.1f} / "
                f"{100 * r.frr:.1f} / {r.ece:.3f}"
            )
        lines.append(f"| {name} | {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
