"""End-to-end on real speech from the shared data: accuracy targets of the core issue.

Each protocol is embedded once per encoder (session fixtures); the tests then check
EER, closed-set identification and open-set identification at the default
operating points, and run the real service and CLI on LibriSpeech.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from typer.testing import CliRunner

from voxprint.bootstrap import ServiceOptions, build_pipeline, build_service
from voxprint.cli.app import app
from voxprint.decision import Decision
from voxprint.evaluation.datasets import EvalSet, build_protocol
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.evaluation.runner import EmbeddedSet, embed_items, trial_scores
from voxprint.operating_points import DEFAULT_OPERATING_POINTS
from voxprint.scoring.similarity import cosine_matrix
from voxprint.store.records import EnrollmentStatus

pytestmark = [pytest.mark.data, pytest.mark.slow]


@cache
def pipeline(model: str):
    return build_pipeline(ServiceOptions(model=model))


@cache
def embedded(model: str, protocol: str) -> tuple[EvalSet, EmbeddedSet]:
    eval_set = build_protocol(protocol)
    return eval_set, embed_items(pipeline(model), eval_set.items)


@pytest.fixture(autouse=True)
def _needs_data(data_root, monkeypatch):
    monkeypatch.setenv("VOXPRINT_DATA", str(data_root))


def eer_of(model: str, protocol: str) -> float:
    eval_set, embeddings = embedded(model, protocol)
    return equal_error_rate(*trial_scores(eval_set, embeddings))[0]


def test_campplus_eer_on_test_other_is_at_most_half_a_percent():
    assert eer_of("campplus", "test-other") <= 0.005


def test_campplus_eer_on_tc100_halves_is_at_most_0_6_percent():
    assert eer_of("campplus", "tc100-halves") <= 0.006


def test_ge2e_eer_on_tc100_halves_is_at_most_3_percent():
    assert eer_of("ge2e", "tc100-halves") <= 0.03


def gallery_and_probes(model: str):
    eval_set, embeddings = embedded(model, "tc100-halves")
    index = embeddings.index()
    assert eval_set.gallery_keys is not None and eval_set.probe_keys is not None
    gallery = embeddings.embeddings[[index[k] for k in eval_set.gallery_keys]]
    probes = embeddings.embeddings[[index[k] for k in eval_set.probe_keys]]
    return gallery, probes


def test_campplus_identifies_at_least_98_percent_of_251_second_halves():
    gallery, probes = gallery_and_probes("campplus")
    top1 = np.mean(cosine_matrix(probes, gallery).argmax(axis=1) == np.arange(len(probes)))
    assert top1 >= 0.98


def test_the_default_open_set_threshold_rejects_strangers_and_keeps_enrolled_speakers():
    gallery, probes = gallery_and_probes("campplus")
    policy = DEFAULT_OPERATING_POINTS["campplus"].identification_policy()
    scores = cosine_matrix(probes, gallery)
    known = (scores.argmax(axis=1) == np.arange(len(probes))) & np.array(
        [policy.decide(s, len(gallery)) is Decision.ACCEPT for s in scores.max(axis=1)]
    )
    _, strangers = embedded("campplus", "test-other")
    stranger_best = cosine_matrix(strangers.embeddings, gallery).max(axis=1)
    unknown = np.array([policy.decide(s, len(gallery)) is Decision.REJECT for s in stranger_best])
    assert unknown.mean() >= 0.90
    assert known.mean() >= 0.97


def test_the_default_verification_threshold_sits_near_the_measured_eer_point():
    eval_set, embeddings = embedded("campplus", "tc100-halves")
    target, nontarget = trial_scores(eval_set, embeddings)
    threshold = DEFAULT_OPERATING_POINTS["campplus"].verification_threshold
    false_reject = np.mean(target < threshold)
    false_accept = np.mean(nontarget >= threshold)
    assert false_reject <= 0.01 and false_accept <= 0.01


def test_the_service_enrols_verifies_and_identifies_librispeech_speakers(data_root, tmp_path):
    service = build_service(ServiceOptions(db=tmp_path / "real.db"), pipeline("campplus"))
    speakers = sorted((data_root / "librispeech" / "test-other").iterdir())[:3]
    profiles = {}
    for folder in speakers:
        files = sorted(folder.glob("*.flac"))
        profile = service.create_profile(folder.name)
        for path in files[:-1]:
            report = service.enroll(profile.id, path)
            if report.status is EnrollmentStatus.ENROLLED:
                break
        assert report.status is EnrollmentStatus.ENROLLED, folder.name
        assert report.remaining_speech_seconds == 0
        profiles[folder.name] = (profile, files[-1])
    for name, (profile, held_out) in profiles.items():
        assert service.verify(profile.id, held_out).decision is Decision.ACCEPT
        result = service.identify(held_out)
        assert result.identified is not None and result.identified.name == name
    first, second = list(profiles.values())[:2]
    impostor = service.verify(first[0].id, second[1])
    assert impostor.decision is Decision.REJECT and impostor.score < 0.5


def test_the_cli_identifies_a_held_out_file_on_real_speech(data_root, tmp_path):
    folder = sorted((data_root / "librispeech" / "test-other").iterdir())[0]
    files = sorted(folder.glob("*.flac"))
    db = str(tmp_path / "cli.db")
    enrolled = CliRunner().invoke(app, ["enroll", folder.name, *map(str, files[:6]), "--db", db])
    assert enrolled.exit_code == 0, enrolled.output
    result = CliRunner().invoke(app, ["identify", str(files[-1]), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["identified"]["name"] == folder.name
