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

import numpy as np

import voxprint.evaluation.decisions as decisions
from decision_cache import embedded_domain
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.domains import DOMAINS, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scoring.llr import ConditionModel
from voxprint.settings import default_data_root


def target_std(self: ConditionModel, probe_seconds: float | np.ndarray) -> np.ndarray:
    d = np.maximum(np.asarray(probe_seconds, dtype=np.float64), 0.05) + self.speech_offset
    return np.asarray(self.targets.std_floor + self.targets.std_short / np.sqrt(d))


def main() -> None:
    # The fit reads the owners' spread from ConditionModel, so this one patch changes
    # both the fit and the scoring.
    ConditionModel.target_std = target_std  # type: ignore[method-assign]
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
