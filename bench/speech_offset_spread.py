"""A variant of the scoring prior, measured and not kept: the speech offset in the owners' spread.

Usage:
    .venv/bin/python bench/speech_offset_spread.py

The shipped target model widens owners' cosines on short probes by
``std_short / sqrt(d)`` (``d``: measured net speech). This variant uses
``std_short / sqrt(d + o)`` with the same speech offset ``o`` as the shrinkage, refits the
prior on every development domain as ``bench/fit_decisions.py`` does, and prints the
decision figures of every domain at gallery sizes 2, 10 and all (as bench/decisions.py).
The variant is patched in here only; the library is not changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

import voxprint.evaluation.decisions as decisions
from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scoring.llr import ConditionModel, TargetScores, noise_factor, shrink_factor
from voxprint.settings import default_data_root


def target_std(self: ConditionModel, probe_seconds: float | np.ndarray) -> np.ndarray:
    d = np.maximum(np.asarray(probe_seconds, dtype=np.float64), 0.05) + self.speech_offset
    return np.asarray(self.targets.std_floor + self.targets.std_short / np.sqrt(d))


def fit_targets(trials: Sequence[decisions.DomainTrials]) -> decisions._FittedTargets:
    y = np.concatenate([t.target_scores for t in trials])
    dp = np.concatenate([t.target_probe_seconds for t in trials])
    de = np.concatenate([t.target_enrol_seconds for t in trials])
    snr = np.concatenate([t.target_probe_snr for t in trials])
    w = np.concatenate([np.full(t.target_scores.size, 1.0 / t.target_scores.size) for t in trials])

    def loss(p: np.ndarray) -> float:
        ceiling, k, floor, short, noise, offset = p
        if k <= 0.01 or floor <= 0.005 or short < 0 or noise < 0 or not 0 < ceiling <= 1:
            return 1e9
        if not 0 <= offset <= decisions.MAX_SPEECH_OFFSET:
            return 1e9
        shrink = shrink_factor(dp, k, offset) * shrink_factor(de, k, offset)
        mean = ceiling * shrink * noise_factor(snr, noise)
        std = floor + short / np.sqrt(np.maximum(dp, 0.05) + offset)
        return float(np.sum(w * (0.5 * ((y - mean) / std) ** 2 + np.log(std))))

    best = minimize(
        loss,
        np.array([0.92, 0.8, 0.07, 0.03, 1.0, 0.1]),
        method="Nelder-Mead",
        options={"maxiter": 12000, "xatol": 1e-5, "fatol": 1e-9},
    )
    ceiling, k, floor, short, noise, offset = (float(v) for v in best.x)
    return decisions._FittedTargets(k, offset, TargetScores(ceiling, floor, short, noise))


def main() -> None:
    ConditionModel.target_std = target_std  # type: ignore[method-assign]
    decisions._fit_targets = fit_targets
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    domains = {name: build_domain(name, root) for name in DOMAINS}
    embedded = {name: embedded_domain(d, pipeline) for name, d in domains.items()}
    trials = [decisions.domain_trials(domains[n], embedded[n]) for n in DOMAINS]
    prior = decisions.fit_prior(trials, source="variant", base=DEFAULT_PRIORS["campplus"])
    t = prior.targets
    print(
        f"spread {t.std_floor:.4f} + {t.std_short:.4f} / sqrt(d + {prior.speech_offset:.4f}); "
        f"shrinkage {prior.shrink_seconds:.4f} s; ceiling {t.ceiling:.4f}"
    )
    print("| domain | gallery | unknown → unknown | named right | FAR | FRR | ECE |")
    print("|---|---|---|---|---|---|---|")
    for name in DOMAINS:
        for r in decisions.evaluate_domain(domains[name], embedded[name], prior):
            print(
                f"| {name} | {r.gallery_size} | {100 * r.unknown_rejected:.1f} % | "
                f"{100 * r.named:.1f} % | {100 * r.far:.1f} % | {100 * r.frr:.1f} % | "
                f"{r.ece:.3f} |"
            )


if __name__ == "__main__":
    main()
