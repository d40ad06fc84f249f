"""The benchmark suite's own arithmetic and report (bench/suite.py), without its timings."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SUITE_PATH = Path(__file__).resolve().parents[1] / "bench" / "suite.py"


@pytest.fixture(scope="module")
def suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voxprint_bench_suite", SUITE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def brute_force_stats(cohort: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    n = cohort.shape[0]
    mean, std = np.zeros((n, n)), np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        kept = np.array([cohort[i, c] for c in range(n) if c not in (i, j)])
        top = np.sort(kept)[::-1][:top_k]
        mean[i, j], std[i, j] = top.mean(), top.std()
    return mean, std


def test_leave_two_out_cohort_statistics_match_a_brute_force_count(suite: ModuleType) -> None:
    rng = np.random.default_rng(0)
    cohort = rng.uniform(-1, 1, size=(9, 9))
    for top_k in (1, 3, 7):
        mean, std = suite._stats_leaving_out(cohort, top_k)
        expected_mean, expected_std = brute_force_stats(cohort, top_k)
        off_diagonal = ~np.eye(9, dtype=bool)
        np.testing.assert_allclose(mean[off_diagonal], expected_mean[off_diagonal], atol=1e-9)
        np.testing.assert_allclose(std[off_diagonal], expected_std[off_diagonal], atol=1e-6)


def row(suite: ModuleType, system: str, protocol: str, eer: float, **extra: float) -> object:
    return suite.Row(
        system=system,
        protocol=protocol,
        eer=eer,
        min_dcf=0.1,
        top1=0.95,
        rtf=0.02,
        per_second=10.0,
        peak_rss_mb=900.0,
        **extra,
    )


def test_the_report_has_a_row_per_protocol_and_a_column_per_system(suite: ModuleType) -> None:
    rows = [
        row(suite, "voxprint", "both-2s", 0.0239, eer_asnorm=0.03, min_dcf_asnorm=0.2),
        row(suite, "reference-campplus", "both-2s", 0.0279),
        row(suite, "voxprint", "fsdd", 0.25),
    ]
    text = suite.render(rows, "bench/suite.py --quick", threads=1)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| protocol | voxprint"))
    assert header.split(" | ")[1:3] == ["voxprint", "reference-campplus"]
    both = next(line for line in lines if line.startswith("| both-2s | 2.39 %"))
    assert "2.79 % (0.100)" in both and "3.00 % (0.200)" in both
    fsdd = next(line for line in lines if line.startswith("| fsdd |"))
    assert fsdd.split(" | ")[2] == "–"  # the reference did not run on fsdd
    assert "| both-2s | reference-campplus | 95.0 % | 0.020 | 10.0 | 900 MB |" in lines
    assert "`bench/suite.py --quick`" in lines[0]


def test_writing_the_docs_replaces_only_the_marked_section(
    suite: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "before\n<!-- suite:quick:begin -->\nold\n<!-- suite:quick:end -->\nafter\n"
        "<!-- suite:full:begin -->\nfull\n<!-- suite:full:end -->\n"
    )
    monkeypatch.setattr(suite, "DOCS", docs)
    suite.write_docs("new table", "quick")
    text = docs.read_text()
    assert "old" not in text and "new table" in text
    assert text.startswith("before\n") and "after\n" in text and "\nfull\n" in text


def test_writing_the_docs_without_markers_stops_with_a_message(
    suite: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("no markers here\n")
    monkeypatch.setattr(suite, "DOCS", docs)
    with pytest.raises(SystemExit, match="lacks the markers"):
        suite.write_docs("table", "full")
    assert docs.read_text() == "no markers here\n"


def test_quick_mode_is_a_subset_of_the_full_protocols(suite: ModuleType) -> None:
    assert set(suite.QUICK) <= set(suite.FULL)
    assert set(suite.SYSTEMS) == {"voxprint", "resemblyzer", "reference-campplus"}
