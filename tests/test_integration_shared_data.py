"""End-to-end on real speech from the shared data: accuracy targets of the core issue.

Each protocol is embedded once per encoder (session fixtures); the tests then check
EER, closed-set identification and open-set identification at the default
operating points, and run the real service and CLI on LibriSpeech.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest
from typer.testing import CliRunner

from voxprint.adaptation import ProfileClips
from voxprint.bootstrap import ServiceOptions, build_pipeline, build_service
from voxprint.cli.app import app
from voxprint.decision import Decision
from voxprint.errors import ClipRejectedError
from voxprint.evaluation.datasets import EvalSet, build_protocol
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.evaluation.runner import EmbeddedSet, embed_items, trial_scores
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Probe, Scorer
from voxprint.scoring.similarity import cosine_matrix
from voxprint.store.records import EnrollmentStatus

from conftest import shared_data_root

pytestmark = [pytest.mark.data, pytest.mark.slow]


@cache
def pipeline(model: str):
    return build_pipeline(ServiceOptions(model=model))


@cache
def embedded(model: str, protocol: str) -> tuple[EvalSet, EmbeddedSet]:
    eval_set = build_protocol(protocol, shared_data_root())
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


def test_the_adapted_default_rejects_strangers_and_names_enrolled_speakers():
    """All 251 tc100 first halves enrolled (the operating point adapted to them, as the
    service does); the test-other speakers are the strangers."""
    gallery, probes = gallery_and_probes("campplus")
    _, strangers = embedded("campplus", "test-other")
    seconds = np.full(len(gallery), 6.0)  # each first half holds about 6 s of speech
    prior = DEFAULT_PRIORS["campplus"]
    statistics = prior.statistics(
        [ProfileClips(g, g[None, :], seconds[:1]) for g in gallery], updated_at=datetime.now(UTC)
    )
    scorer = Scorer(prior.operating_point(statistics))

    def named(vector: np.ndarray) -> int | None:
        ranking = scorer.identify(Probe(vector, 6.0), gallery, seconds, top_n=1)
        return ranking.candidates[0].index if ranking.identified else None

    known = np.mean([named(p) == i for i, p in enumerate(probes)])
    unknown = np.mean([named(s) is None for s in strangers.embeddings])
    # Durations are taken as 6 s here; with each half's measured speech (as the service
    # has it) bench/decisions.py measures 100 % and 98.4 % (docs/benchmarks.md).
    assert unknown >= 0.97
    assert known >= 0.95


def test_the_default_prior_accepts_owners_and_rejects_others_on_tc100_halves():
    """The prior alone (a namespace with one profile), every clip taken as 6 s of speech:
    within issue 11's bounds (FRR at most 5 %, FAR at most 2 %); measured 2.4 % and 0 %."""
    gallery, probes = gallery_and_probes("campplus")
    scorer = Scorer(DEFAULT_PRIORS["campplus"].operating_point())
    own = [scorer.verify(Probe(p, 6.0), gallery[i], 6.0).decision for i, p in enumerate(probes)]
    other = [
        scorer.verify(Probe(p, 6.0), gallery[(i + 1) % len(gallery)], 6.0).decision
        for i, p in enumerate(probes)
    ]
    assert np.mean([d is Decision.REJECT for d in own]) <= 0.05
    assert np.mean([d is Decision.ACCEPT for d in other]) <= 0.01


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
    assert json.loads(result.output)["identified"]["profile_name"] == folder.name


def test_the_poc_scenario_two_enrolled_a_third_unknown_and_cross_claims_rejected(
    data_root, tmp_path
):
    """The register/identify demo of the ESPnet PoC, on accented English of three adults
    from speechocean762: two are enrolled, the third never is."""
    root = data_root / "speechocean762"
    adults = [
        line.split("\t")[0]
        for line in (root / "SPEAKERS.tsv").read_text().splitlines()[1:]
        if int(line.split("\t")[1]) >= 16
    ][:3]
    service = build_service(
        ServiceOptions(db=tmp_path / "poc.db", enrollment_speech_seconds=10.0),
        pipeline("campplus"),
    )
    files = {speaker: sorted((root / speaker).glob("*.flac")) for speaker in adults}
    profiles = {}
    for speaker in adults[:2]:
        profile = service.create_profile(speaker)
        for path in files[speaker][:4]:
            service.enroll(profile.id, path)
        assert service.get_profile(profile.id).status is EnrollmentStatus.ENROLLED
        profiles[speaker] = profile
    first, second = adults[:2]
    for speaker in adults[:2]:
        for probe in files[speaker][4:]:
            named = service.identify(probe)
            assert named.identified is not None and named.identified.name == speaker, probe
    for probe in files[adults[2]]:
        assert service.identify(probe).is_unknown, probe
        for profile in profiles.values():
            assert service.verify(profile.id, probe).decision is Decision.REJECT
    for probe in files[first][4:]:
        assert service.verify(profiles[second].id, probe).decision is Decision.REJECT
    for probe in files[second][4:]:
        assert service.verify(profiles[first].id, probe).decision is Decision.REJECT
    assert service.operating_point_source().kind.value == "adapted"


def test_enrolling_a_librispeech_speaker_twice_warns_and_distinct_speakers_do_not(
    data_root, tmp_path
):
    service = build_service(
        ServiceOptions(db=tmp_path / "twice.db", enrollment_speech_seconds=15.0),
        pipeline("campplus"),
    )
    speakers = sorted((data_root / "librispeech" / "test-other").iterdir())[:3]
    files = {folder.name: sorted(folder.glob("*.flac")) for folder in speakers}
    first = {}
    for name, paths in files.items():
        profile = service.create_profile(name)
        reports = [service.enroll(profile.id, path) for path in paths[:3]]
        assert reports[-1].status is EnrollmentStatus.ENROLLED, name
        assert all(r.similar_voices == () for r in reports), name
        first[name] = profile.id
    name = speakers[0].name
    again = service.create_profile(f"{name} again")
    reports = [service.enroll(again.id, path) for path in files[name][3:7]]
    assert reports[-1].status is EnrollmentStatus.ENROLLED
    assert [s.profile_id for s in reports[-1].similar_voices] == [first[name]]


def test_a_file_of_another_librispeech_speaker_is_refused_where_the_owners_own_are_taken(
    data_root, tmp_path
):
    service = build_service(ServiceOptions(db=tmp_path / "other.db"), pipeline("campplus"))
    folders = sorted((data_root / "librispeech" / "test-other").iterdir())[:2]
    own, other = (sorted(folder.glob("*.flac")) for folder in folders)
    profile = service.create_profile(folders[0].name)
    service.enroll(profile.id, own[0])
    taken = [service.enroll(profile.id, path) for path in own[1:4]]
    assert [r.profile.clip_count for r in taken] == [2, 3, 4]
    for path in other[:3]:
        with pytest.raises(ClipRejectedError, match="another voice"):
            service.enroll(profile.id, path)
    assert service.get_profile(profile.id).clip_count == 4
