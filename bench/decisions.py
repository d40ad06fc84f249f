"""Decision benchmark: open-set answers, verification and calibrated scores per domain.

Usage:
    .venv/bin/python bench/decisions.py            # all domains; prints the tables
    .venv/bin/python bench/decisions.py --docs     # ... and writes docs/benchmarks.md
                                                   #     and docs/reliability.png
    .venv/bin/python bench/decisions.py --domains speechcommands ami

Deterministic: domains, galleries (5 seeded draws of 2 and of 10 profiles, and all
enrollable speakers) and probes are fixed (voxprint.evaluation.domains). Embeddings come
from the service's pipeline and are cached (bench/decision_cache.py). Every answer goes
through the service's Scorer with the operating point the service would use: the shipped
prior adapted to the gallery's enrolled profiles. Also reported:

* the prior alone (no adaptation: what a namespace with one profile gets);
* leave one data source out: the prior refitted without a family of domains
  (librispeech, fsdd, speechocean762, speechcommands, ami), scored on that family;
* speechocean762 adults and children as separate galleries;
* the earlier LibriSpeech open-set check (all 251 tc100 speakers, test-other strangers);
* poisoning: crafted profiles enrolled into a namespace, and the false-accept rate of
  its real impostor claims before and after.
"""

from __future__ import annotations

import argparse
import math
import platform
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import Band, ProfileClips, clips_band
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import (
    DomainResult,
    EmbeddedDomain,
    domain_trials,
    evaluate_domain,
    fit_prior,
    gallery_operating_point,
    gallery_profiles,
    mean_voiceprint,
    reliability,
    shipped_centre,
)
from voxprint.evaluation.domains import (
    DOMAINS,
    OpenSetDomain,
    build_domain,
    domain_group,
    domain_tc100_closed,
)
from voxprint.operating_points import DEFAULT_PRIORS, ScoringPrior
from voxprint.scorer import Scorer
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "reliability.png"
SECTION = "## Decisions across domains (issue 11)"
SIZE_NAMES = {2: "2", 10: "10"}


def pct(value: float | None) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{100 * value:.1f}")
    )


def size_name(result: DomainResult, domain: OpenSetDomain) -> str:
    return (
        f"all ({result.gallery_size})"
        if result.gallery_size == len(domain.enrollable) and (result.gallery_size not in (2, 10))
        else str(result.gallery_size)
    )


def main_table(rows: list[tuple[OpenSetDomain, DomainResult]]) -> list[str]:
    lines = [
        "| domain | gallery | unknown probes | unknown → unknown | known probes | named right "
        "| named wrong | too little speech | FAR | FRR | ECE | right at ≥ 0.95 "
        "| best any threshold names |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for domain, r in rows:
        lines.append(
            f"| {domain.name} | {size_name(r, domain)} | {r.unknown} | {pct(r.unknown_rejected)} % "
            f"| {r.known} | {pct(r.named)} % | {pct(r.wrong)} % | {pct(r.insufficient)} % "
            f"| {pct(r.far)} % | {pct(r.frr)} % | {r.ece:.3f} | {pct(r.confident_precision)} % "
            f"| {pct(r.best_threshold_named)} % |"
        )
    return lines


def short_table(rows: list[tuple[OpenSetDomain, DomainResult]]) -> list[str]:
    lines = [
        "| domain | gallery | unknown → unknown | named right | FAR | FRR | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for domain, r in rows:
        lines.append(
            f"| {domain.name} | {size_name(r, domain)} | {pct(r.unknown_rejected)} % "
            f"| {pct(r.named)} % | {pct(r.far)} % | {pct(r.frr)} % | {r.ece:.3f} |"
        )
    return lines


def duration_table(rows: list[tuple[OpenSetDomain, DomainResult]]) -> list[str]:
    lines = [
        "| domain | probe speech | known probes | named right | unknown probes "
        "| unknown → unknown |",
        "|---|---|---|---|---|---|",
    ]
    for domain, r in rows:
        for label, (known, named, unknown, rejected) in r.by_duration.items():
            lines.append(
                f"| {domain.name} | {label} | {known} | {pct(named)} % | {unknown} "
                f"| {pct(rejected)} % |"
            )
    return lines


#: Bandwidths (Hz) crafted clips are measured at, per band.
CRAFTED_HZ = {Band.WIDE: 7600.0, Band.NARROW: 3400.0}


def poisoning(
    domain: OpenSetDomain, embedded: EmbeddedDomain, prior: ScoringPrior, rng: np.random.Generator
) -> list[str]:
    """FAR of the domain's real impostor claims (all enrollable speakers enrolled) before and
    after an attacker enrols crafted profiles into the same namespace: clips measured in
    the namespace's own band (the case the per-band floors bound), and in the other band
    (which must move nothing)."""
    profiles, seconds = gallery_profiles(domain, embedded, domain.enrollable)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    home = clips_band([b for p in profiles for b in p.clip_bandwidths()]) or Band.WIDE
    other = Band.WIDE if home is Band.NARROW else Band.NARROW
    rows = embedded.rows(domain.probes)
    truth = [
        domain.enrollable.index(domain.speaker_of[k])
        if domain.speaker_of[k] in domain.enrolment
        else -1
        for k in domain.probes
    ]
    dim = voiceprints.shape[1]

    def far(extra: list[ProfileClips]) -> tuple[float, float]:
        point = gallery_operating_point(prior, [*profiles, *extra])
        scorer = Scorer(point)
        accepted = []
        for row, t in zip(rows, truth, strict=True):
            probe = embedded.probe(int(row))
            claimed = (t + 1) % len(profiles) if t >= 0 else int(row) % len(profiles)
            verdict = scorer.verify(
                probe,
                voiceprints[claimed],
                float(seconds[claimed]),
                side=profiles[claimed].statistics_band(),  # as the service passes it
            )
            accepted.append(verdict.decision.value == "accept")
        model = point.model(home)
        mean = getattr(getattr(model, "impostors", None), "mean", math.nan)
        return float(np.mean(accepted)), float(mean)

    def crafted(vectors: np.ndarray, band: Band) -> list[ProfileClips]:
        """Profiles of ``(count, k, dim)`` clip vectors measured in ``band``."""
        k = vectors.shape[1]
        hz = (CRAFTED_HZ[band],) * k
        return [ProfileClips(l2_normalise(v.mean(0)), v, np.full(k, 10.0), hz) for v in vectors]

    def random_profiles(count: int, band: Band) -> list[ProfileClips]:
        return crafted(l2_normalise(rng.normal(size=(count, 3, dim)).astype(np.float32)), band)

    def clones(count: int, band: Band) -> list[ProfileClips]:
        source = profiles[0]
        return crafted(np.stack([source.embeddings] * count), band)

    def far_apart(count: int, band: Band) -> list[ProfileClips]:
        # Greedy: each new profile is the unit vector least like everything enrolled.
        chosen: list[np.ndarray] = []
        basis = np.vstack([voiceprints])
        for _ in range(count):
            candidates = l2_normalise(rng.normal(size=(256, dim)).astype(np.float32))
            pool = np.vstack([basis, *chosen]) if chosen else basis
            pick = candidates[np.argmin((candidates @ pool.T).max(axis=1))]
            chosen.append(pick[None, :])
        return crafted(np.stack(chosen), band)

    def against_the_mean(count: int, band: Band) -> list[ProfileClips]:
        # Spread-out voices sharing a component opposite the namespace's mean voiceprint:
        # their own pairs score about 0 once centred, while the centre they pull away
        # from what the real voices share lifts real strangers' centred cosines (found
        # in review of the centring).
        direction = l2_normalise(voiceprints.mean(axis=0))
        spread = l2_normalise(rng.normal(size=(count, 3, dim)).astype(np.float32))
        return crafted(l2_normalise(-0.5 * direction + np.sqrt(0.75) * spread), band)

    base_far, base_mean = far([])
    lines = [
        f"Namespace: {domain.name} ({home.value}), {len(profiles)} real profiles; FAR of "
        f"{len(rows)} real impostor claims; impostor mean of the {home.value} model.",
        "",
        "| attack | crafted profiles | their clips | impostor mean in force | FAR |",
        "|---|---|---|---|---|",
        f"| none | 0 | – | {base_mean:.3f} | {pct(base_far)} % |",
    ]
    for name, make in (
        ("random (noise-like) voices", random_profiles),
        ("one voice under many names", clones),
        ("voices chosen far apart", far_apart),
        ("voices opposite the namespace's mean", against_the_mean),
    ):
        for band in (home, other):
            for count in (10, 100):
                value, mean = far(make(count, band))
                lines.append(f"| {name} | {count} | {band.value} | {mean:.3f} | {pct(value)} % |")
    return lines


def reliability_plot(results: list[tuple[OpenSetDomain, DomainResult]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 6.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for domain, r in results:
        # Bins with fewer than 20 claims say little; they are left out of the plot.
        points = [p for p in reliability(r.scores, r.labels) if p[3] >= 20]
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        ax.plot(
            xs, ys, marker="o", markersize=3, linewidth=1, label=f"{domain.name} (ECE {r.ece:.3f})"
        )
    ax.set_xlabel("calibrated score (mean per bin)")
    ax.set_ylabel("share of true claims (targets and non-targets weighted equally)")
    ax.set_title("Reliability of the verification score (bins of 20+ claims)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_table(rows: list[tuple[OpenSetDomain, DomainResult]]) -> list[str]:
    """The reliability bins of each row: mean score against the share of true claims."""
    lines = [
        "| domain | gallery | claims in the bin | mean score | true claims (weighted) | weight |",
        "|---|---|---|---|---|---|",
    ]
    for d, r in rows:
        for b, (score, true, weight, count) in enumerate(reliability(r.scores, r.labels)):
            lines.append(
                f"| {d.name if b == 0 else ''} | {size_name(r, d) if b == 0 else ''} | "
                f"{count} | {score:.3f} | {true:.3f} | {weight:.3f} |"
            )
    return lines


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


#: The last line this benchmark writes: what follows it in its section was written by
#: hand (later findings under the same heading) and is kept.
LAST_LINE = "![Reliability](reliability.png)"


def write_docs(text: str) -> None:
    current = DOCS.read_text() if DOCS.is_file() else "# Benchmarks\n"
    if SECTION in current:
        head, _, rest = current.partition(SECTION)
        _, marker, kept = rest.partition(LAST_LINE)
        if not marker:  # an older layout: the section runs to the next heading
            tail = rest.split("\n## ", 1)
            kept = "\n\n## " + tail[1] if len(tail) > 1 else "\n"
        generated = text[: text.index(LAST_LINE) + len(LAST_LINE)] if LAST_LINE in text else text
        current = head + generated + kept
    else:
        current = current.rstrip("\n") + "\n\n" + text
    DOCS.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    parser.add_argument("--model", default="campplus")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--docs", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    started = time.perf_counter()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    prior = DEFAULT_PRIORS[args.model]
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in DOMAINS}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}

    adapted: list[tuple[OpenSetDomain, DomainResult]] = []
    alone: list[tuple[OpenSetDomain, DomainResult]] = []
    noiseless: list[tuple[OpenSetDomain, DomainResult]] = []
    without_noise = replace(prior, targets=replace(prior.targets, noise_scale=0.0))
    for name in args.domains:
        d, e = domains[name], embedded[name]
        adapted += [(d, r) for r in evaluate_domain(d, e, prior, draws=args.draws)]
        alone += [(d, r) for r in evaluate_domain(d, e, prior, draws=args.draws, adapt=False)]
        noiseless += [(d, r) for r in evaluate_domain(d, e, without_noise, sizes=(0,))]
    groups: list[tuple[OpenSetDomain, DomainResult]] = []
    if "speechocean762" in args.domains:
        for group in ("child", "adult"):
            d = domain_group(domains["speechocean762"], group)
            groups += [
                (d, r)
                for r in evaluate_domain(d, embedded["speechocean762"], prior, draws=args.draws)
            ]
    legacy = domain_tc100_closed(root)
    legacy_results = [
        (legacy, r)
        for r in evaluate_domain(legacy, embedded_domain(legacy, pipeline), prior, sizes=(0,))
    ]

    lodo: list[tuple[OpenSetDomain, DomainResult]] = []
    families = sorted({domains[n].family for n in args.domains})
    means = {
        name: (domains[name].family, mean_voiceprint(domains[name], embedded[name]))
        for name in DOMAINS
    }
    for family in families:
        others = [n for n in DOMAINS if domains[n].family != family]
        # the shipped centre is refitted without the family too (when the prior centres)
        centre = None if prior.centre is None else shipped_centre([means[n] for n in others])
        kept = [domain_trials(domains[n], embedded[n], centre) for n in others]
        strangers = None
        if centre is not None:
            strangers = [
                domain_trials(domains[n], embedded[n], centre, namespace=False) for n in others
            ]
        refit = fit_prior(
            kept, source=f"without {family}", base=prior, centre=centre, impostor_trials=strangers
        )
        for name in args.domains:
            if domains[name].family == family:
                d, e = domains[name], embedded[name]
                lodo += [(d, r) for r in evaluate_domain(d, e, refit, draws=args.draws)]

    rng = np.random.default_rng(20261204)
    poison = [
        line
        for name in ("speechocean762", "tel-8k")
        for line in [*poisoning(domains[name], embedded[name], prior, rng), ""]
    ]
    elapsed = time.perf_counter() - started

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    command = "`.venv/bin/python bench/decisions.py --docs`"
    text = "\n".join(
        [
            SECTION,
            "",
            f"Command: {command} ({elapsed / 60:.0f} min with a warm embedding cache; "
            f"CPU: {cpu_name()}, {platform.machine()}; commit {commit}; "
            f"{datetime.now(UTC):%Y-%m-%d}). Encoder {args.model}, default settings, no user "
            "calibration. Galleries of 2 and 10 profiles are 5 seeded draws each (counts are "
            'summed over draws); "all" enrols every enrollable speaker of the domain. Unknown '
            "probes are speakers never enrolled. Verification claims: every known probe against "
            "its own profile and another one, every unknown probe against one profile. FAR/FRR "
            "at the default operating point (accept at score ≥ "
            f"{prior.verification_threshold}); a name needs posterior ≥ "
            f"{prior.identification_threshold}; under {prior.min_speech_seconds} s of speech the "
            'answer is "too little speech". ECE over the claims, target and non-target claims '
            'weighted equally. "Right at ≥ 0.95": of the answers given with score ≥ 0.95 '
            "(names, and verification scores ≥ 0.95 or ≤ 0.05), the share that is right. "
            '"Best any threshold names": the most known probes one threshold on the best '
            "candidate's posterior, chosen per row with the answers known, could name while "
            "still answering 95 % of unknown probes unknown. Where it is low the embeddings "
            "limit the row; where the default names fewer, it is the price of one threshold "
            "that keeps strangers out in every domain.",
            "",
            "### Adapted to the gallery (the default)",
            "",
            *main_table(adapted),
            "",
            "### Without the noise term (the same prior, owners' cosines not expected to "
            "drop with the probe's level SNR)",
            "",
            'All enrollable speakers enrolled, adapted; compare with the rows marked "all" above.',
            "",
            *short_table(noiseless),
            "",
            "### The prior alone (no adaptation)",
            "",
            *short_table(alone),
            "",
            "### speechocean762: children and adults as separate galleries",
            "",
            *short_table(groups),
            "",
            "### Leave one data source out (prior refitted without the family)",
            "",
            *short_table(lodo),
            "",
            "### By probe speech (all profiles enrolled)",
            "",
            *duration_table(
                [
                    (d, r)
                    for d, r in adapted
                    if d.name in ("speechcommands", "fsdd", "fsdd-pin", "noise-0dB")
                    and r.gallery_size == len(d.enrollable)
                ]
            ),
            "",
            "### Reliability where the ECE is highest (all profiles enrolled)",
            "",
            "Each bin's claims weighted as for the ECE (target and non-target claims equally).",
            "",
            *reliability_table(
                [
                    (d, r)
                    for d, r in adapted
                    if d.name in ("fsdd", "fsdd-pin") and r.gallery_size == len(d.enrollable)
                ]
            ),
            "",
            "### The earlier LibriSpeech open-set check",
            "",
            *short_table(legacy_results),
            "",
            "### Poisoning the adaptation",
            "",
            *poison,
            "",
            f"![Reliability]({PLOT.relative_to(REPO / 'docs')})",
            "",
        ]
    )
    print(text)
    if args.docs:
        reliability_plot([(d, r) for d, r in adapted if r.gallery_size == len(d.enrollable)], PLOT)
        write_docs(text)


if __name__ == "__main__":
    sys.exit(main())
