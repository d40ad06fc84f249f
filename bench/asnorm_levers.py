"""AS-Norm and VAD levers, recomputed from the embeddings a suite run kept.

Usage:
    .venv/bin/python bench/suite.py --full --systems voxprint reference-campplus voxprint-novad \\
        --save /tmp/suite --no-write
    .venv/bin/python bench/asnorm_levers.py /tmp/suite [--top-k 50 100 200]

Prints one EER table: every system kept in the folder with plain cosine, and each system
that has cohort embeddings (the voxprint variants) with AS-Norm at each ``top_k``. No
audio is embedded again, so the figures are exactly those of the suite run.

``leave-two-out`` (the ``tc100-halves`` family only): AS-Norm whose cohort is the other
``train-clean-100`` speakers of the protocol itself: for trial (enrol e, test t) the
enrolment side is normalised against the other speakers' enrolment items and the test
side against the other speakers' test items, leaving out *both* speakers of the trial,
so no trial is normalised with its own speakers. This is what a service can do with
its other enrolled profiles; the disjoint cohort available for these protocols has
only the 10 ``test-other`` speakers.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

from suite import leave_two_out_as_norm, trial_matrix_scores  # type: ignore[import-not-found]
from voxprint.evaluation.datasets import build_protocol
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.scoring.asnorm import as_norm
from voxprint.scoring.similarity import cosine_matrix
from voxprint.settings import default_data_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved", type=Path)
    parser.add_argument("--top-k", type=int, nargs="+", default=[50, 100, 200])
    args = parser.parse_args()
    runs = {p.stem: pickle.loads(p.read_bytes()) for p in sorted(args.saved.glob("*.pkl"))}
    protocols = list(dict.fromkeys(name for run in runs.values() for name in run["protocols"]))
    columns: list[str] = []
    table: dict[str, dict[str, str]] = {}
    for protocol in protocols:
        eval_set = build_protocol(protocol, default_data_root())
        row = table.setdefault(protocol, {})
        for system, run in runs.items():
            entry = run["protocols"].get(protocol)
            if entry is None:
                continue
            emb = entry["embeddings"]
            raw = cosine_matrix(emb, emb).astype(np.float64)
            variants = {system: raw}
            if "cohort_enrol" in entry:
                enrol_c = cosine_matrix(emb, entry["cohort_enrol"])
                test_c = cosine_matrix(emb, entry["cohort_test"])
                for k in args.top_k:
                    variants[f"{system} AS-Norm k={k}"] = as_norm(raw, enrol_c, test_c, top_k=k)
            if eval_set.gallery_keys is not None:
                for k in args.top_k:
                    in_set = leave_two_out_as_norm(eval_set, entry["keys"], emb, k)
                    assert in_set is not None
                    variants[f"{system} leave-two-out k={k}"] = in_set
            for name, matrix in variants.items():
                eer, _ = equal_error_rate(*trial_matrix_scores(eval_set, entry["keys"], matrix))
                row[name] = f"{100 * eer:.2f} %"
                if name not in columns:
                    columns.append(name)
    print("| protocol | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for protocol, row in table.items():
        print(f"| {protocol} | " + " | ".join(row.get(c, "–") for c in columns) + " |")


if __name__ == "__main__":
    main()
