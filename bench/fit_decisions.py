"""Fit an encoder's scoring prior across every development domain of the shared data.

Usage:
    .venv/bin/python bench/fit_decisions.py [--model campplus]

Embeds (or reads from bench/decision_cache.py's cache) every domain of
``voxprint.evaluation.domains.DOMAINS``, fits the shrinkage constant, the speech offset
and the target model by maximum likelihood (domains weighted equally), the impostor prior
of each band from the domains recorded in it, and prints the ``ScoringPrior`` to paste
into ``src/voxprint/operating_points.py``. Decision thresholds are kept from the current prior.
Then, per domain, how the fitted target model fits its owners' cosines: the mean and
spread of ``(cosine - model mean) / model spread`` (0 and 1 where it fits).
"""

from __future__ import annotations

import argparse

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import domain_trials, fit_prior
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS, ScoringPrior
from voxprint.scoring.llr import ConditionModel
from voxprint.settings import default_data_root


def prior_code(prior: ScoringPrior) -> str:
    lines = ["ScoringPrior(", "    impostors={"]
    for band, p in prior.impostors.items():
        lines.append(
            f"        Band.{band.name}: ImpostorPrior(mean={p.mean:.4f}, "
            f"domain_std={p.domain_std:.4f}, std={p.std:.4f}, pair_std={p.pair_std:.4f}, "
            f"mean_floor={p.mean_floor:.4f}, std_floor={p.std_floor:.4f}),"
        )
    t = prior.targets
    lines += [
        "    },",
        f"    targets=TargetScores(ceiling={t.ceiling:.4f}, std_floor={t.std_floor:.4f}, "
        f"std_short={t.std_short:.4f}, noise_scale={t.noise_scale:.4f}),",
        f"    shrink_seconds={prior.shrink_seconds:.4f},",
        "    source=_SHARED_DATA,",
        f"    speech_offset={prior.speech_offset:.4f},",
        ")",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="campplus")
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    root = default_data_root()
    trials = []
    for name in DOMAINS:
        domain = build_domain(name, root)
        trials.append(domain_trials(domain, embedded_domain(domain, pipeline)))
        t = trials[-1]
        print(
            f"{name:16s} {t.band.value:10s} impostor mean {t.impostor_scores.mean():.3f} "
            f"sd {t.impostor_scores.std():.3f}; target mean {t.target_scores.mean():.3f}"
        )
    prior = fit_prior(trials, source="fit", base=DEFAULT_PRIORS.get(args.model))
    print(prior_code(prior))
    print("target model residuals (z) per domain:")
    for name, t in zip(DOMAINS, trials, strict=True):
        model = ConditionModel(
            prior.impostors[t.band].unadapted(),
            prior.targets,
            prior.shrink_seconds,
            prior.speech_offset,
        )
        mean = model.target_mean(t.target_probe_seconds, t.target_enrol_seconds, t.target_probe_snr)
        z = (t.target_scores - mean) / model.target_std(t.target_probe_seconds)
        print(f"{name:16s} {t.band.value:10s} z mean {z.mean():+.2f} sd {z.std():.2f}")


if __name__ == "__main__":
    main()
