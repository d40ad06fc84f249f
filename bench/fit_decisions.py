"""Fit an encoder's scoring prior across every development domain of the shared data.

Usage:
    .venv/bin/python bench/fit_decisions.py [--model campplus]

Embeds (or reads from bench/decision_cache.py's cache) every domain of
``voxprint.evaluation.domains.DOMAINS``. For an encoder whose prior centres (CAM++), the
shipped centre is the mean voiceprint of the domains (families weighted equally), written
to ``--centre-file`` (default: the prior's own file). Every domain's cosines are
then taken centred as a namespace holding its profiles would centre them, for the owners'
model and the pair spread, and centred on the shipped centre alone, for the impostor
prior (what a namespace meets before its own profiles say anything; adaptation moves it
from there). Then it fits the shrinkage constant, the speech offset and the target model
by maximum likelihood (domains weighted equally) and the impostor prior of each band from
the domains recorded in it, and prints the ``ScoringPrior`` to paste into
``src/voxprint/operating_points.py``. Decision thresholds are kept from the current prior.
Then, per domain, how the fitted target model fits its owners' cosines: the mean and
spread of ``(cosine - model mean) / model spread`` (0 and 1 where it fits).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import (
    domain_trials,
    fit_prior,
    mean_voiceprint,
    shipped_centre,
)
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import CENTRE_FILES, DEFAULT_PRIORS, ScoringPrior
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
    ]
    if prior.standout_margin is not None:  # chosen by bench/standout.py, kept from the base
        lines.append(f"    standout_margin={prior.standout_margin},")
    lines.append(")")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="campplus")
    parser.add_argument("--centre-file", type=Path, default=None)
    args = parser.parse_args()
    pipeline = build_pipeline(ServiceOptions(model=args.model))
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in DOMAINS}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}
    centre_file = args.centre_file or CENTRE_FILES.get(args.model)
    centre = None
    if centre_file is not None:
        centre = shipped_centre(
            [(d.family, mean_voiceprint(d, embedded[n])) for n, d in domains.items()]
        )
        np.save(centre_file, centre)
        print(f"shipped centre (norm {np.linalg.norm(centre):.3f}) -> {centre_file}")
    trials = [domain_trials(d, embedded[n], centre) for n, d in domains.items()]
    strangers = None
    if centre is not None:
        strangers = [
            domain_trials(d, embedded[n], centre, namespace=False) for n, d in domains.items()
        ]
    for name, t, s in zip(domains, trials, strangers or trials, strict=True):
        print(
            f"{name:16s} {t.band.value:10s} impostor mean {s.impostor_scores.mean():.3f} "
            f"sd {s.impostor_scores.std():.3f} (in a namespace of them: "
            f"{t.impostor_scores.mean():.3f}); target mean {t.target_scores.mean():.3f}"
        )
    prior = fit_prior(
        trials,
        source="fit",
        base=DEFAULT_PRIORS.get(args.model),
        centre=centre,
        impostor_trials=strangers,
    )
    print(prior_code(prior))
    print("target model residuals (z) per domain:")
    for name, t in zip(domains, trials, strict=True):
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
