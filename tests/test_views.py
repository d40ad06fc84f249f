"""voxprint.views and voxprint.rounding: one JSON shape and one rounding rule, whether a result
is printed by ``--json`` or answered by the REST API."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from voxprint import rounding, views
from voxprint.adaptation import Band
from voxprint.api import render
from voxprint.store.records import GalleryStatistics

from apihelp import auth, client_for, issue_key, make_app, voice_wav


def test_durations_round_to_the_millisecond_and_levels_to_a_hundredth():
    assert rounding.seconds(1.23456) == 1.235
    assert rounding.decibels(17.456) == 17.46
    assert rounding.milliseconds(0.0123456) == 12.3


@pytest.fixture()
def served(tmp_path):
    app, service = make_app(tmp_path / "views.db")
    key = issue_key(service, "default")
    with client_for(app) as client:
        profile = client.post("/v1/profiles", json={"name": "alice"}, headers=auth(key)).json()
        enrolled = client.post(
            f"/v1/profiles/{profile['id']}/enrollments",
            content=voice_wav(150, 12, seed=1),
            headers={**auth(key), "Content-Type": "audio/wav"},
        ).json()
        yield client, key, service, profile["id"], enrolled


def _plain(value):
    """What a JSON client sees (datetimes as text, as each edge writes them)."""
    return json.loads(json.dumps(value, default=str))


def test_the_api_answers_exactly_the_views_of_a_verification(served):
    client, key, service, profile_id, _ = served
    probe = voice_wav(150, 4, seed=2)
    answered = client.post(
        f"/v1/profiles/{profile_id}/verify",
        content=probe,
        headers={**auth(key), "Content-Type": "audio/wav"},
    ).json()
    result = service.verify(profile_id, probe)
    shown = views.verification(result)
    assert set(answered) >= set(shown)
    assert answered["profile_name"] == shown["profile_name"] == "alice"
    assert answered["score"] == pytest.approx(shown["score"])
    assert answered["net_speech_seconds"] == shown["net_speech_seconds"]
    assert shown["net_speech_seconds"] == rounding.seconds(result.net_speech_seconds)


def test_candidates_name_their_profile_as_profile_name_everywhere(served):
    client, key, service, profile_id, _ = served
    probe = voice_wav(150, 4, seed=3)
    answered = client.post(
        "/v1/identify", content=probe, headers={**auth(key), "Content-Type": "audio/wav"}
    ).json()
    shown = views.identification(service.identify(probe))
    for out in (answered, shown):
        assert out["identified"]["profile_id"] == profile_id
        assert out["identified"]["profile_name"] == "alice"
        assert "name" not in out["identified"]
        assert all("profile_name" in c for c in out["candidates"])


def test_an_enrolment_answer_names_its_profile_and_rounds_its_durations(served):
    *_, enrolled = served
    assert enrolled["profile_name"] == "alice"
    for field in ("clip_audio_seconds", "net_speech_seconds", "remaining_speech_seconds"):
        assert enrolled[field] == round(enrolled[field], 3)


def test_render_builds_the_api_models_from_the_views(served):
    _, _, service, profile_id, _ = served
    profile = service.get_profile(profile_id)
    model = render.profile(profile, service.enrollment).model_dump(mode="json")
    assert (
        _plain(views.profile(profile, service.enrollment)).items()
        <= {
            **model,
            "created_at": str(profile.created_at),
            "updated_at": str(profile.updated_at),
        }.items()
    )


def test_scores_are_never_rounded_to_certainty():
    from types import SimpleNamespace

    from voxprint.decision import Decision, DecisionReason

    source = SimpleNamespace(
        kind=SimpleNamespace(value="prior"), description="d", profiles=0, clips=0, updated_at=None
    )
    result = SimpleNamespace(
        profile_id="p",
        profile_name="alice",
        cosine=0.812345678,
        score=0.99996,
        normalized_score=None,
        decision=Decision.ACCEPT,
        reason=DecisionReason.MATCH,
        threshold=0.5,
        cosine_threshold=None,
        net_speech_seconds=3.14159,
        source=source,
        activity_logged=True,
        look_alike=None,
    )
    shown = views.verification(result)  # type: ignore[arg-type]
    assert shown["score"] == 0.99996 and shown["cosine"] == 0.812345678
    assert shown["net_speech_seconds"] == 3.142


def test_an_identification_says_how_much_speech_would_do_and_the_api_model_keeps_it():
    from types import SimpleNamespace

    from voxprint.api.schemas import IdentificationOut
    from voxprint.decision import DecisionReason

    source = SimpleNamespace(
        kind=SimpleNamespace(value="adapted"),
        description="d",
        profiles=80,
        clips=400,
        updated_at=None,
    )
    result = SimpleNamespace(
        candidates=(),
        identified=None,
        is_unknown=True,
        reason=DecisionReason.INSUFFICIENT_SPEECH,
        threshold=0.7,
        unknown_probability=0.8,
        gallery_size=80,
        net_speech_seconds=0.4512,
        speech_needed_seconds=0.53833,
        source=source,
        activity_logged=True,
    )
    shown = views.identification(result)  # type: ignore[arg-type]
    assert shown["speech_needed_seconds"] == 0.538
    assert shown["reason"] == "insufficient_speech"
    assert IdentificationOut.model_validate(shown).speech_needed_seconds == 0.538
    unknown = views.identification(
        SimpleNamespace(**{**vars(result), "speech_needed_seconds": None})
    )  # type: ignore[arg-type]
    assert unknown["speech_needed_seconds"] is None


def test_thresholds_show_the_other_bands_pairs_when_a_namespace_has_any(served):
    _, _, service, _, _ = served
    report = service.threshold_report()
    assert views.thresholds(report)["statistics"]["other_band"] is None  # one band only
    mixed = GalleryStatistics(
        Band.WIDE,
        6,
        18,
        3,
        0.07,
        0.1,
        datetime.now(UTC),
        other_pairs=3,
        other_pair_mean=0.38,
        other_trial_std=0.11,
    )
    shown = views.thresholds(replace(report, statistics=mixed))["statistics"]
    assert shown["other_band"] == {
        "band": "narrowband",
        "pairs": 3,
        "pair_mean": 0.38,
        "trial_std": 0.11,
    }
    model = render.thresholds(replace(report, statistics=mixed)).model_dump(mode="json")
    assert model["statistics"]["other_band"] == shown["other_band"]


def test_an_identification_left_unknown_as_a_look_alike_is_a_valid_api_answer():
    from voxprint.api.schemas import IdentificationOut
    from voxprint.decision import DecisionReason, SourceKind, ThresholdSource
    from voxprint.service import Candidate, IdentificationResult

    closest = Candidate("p1", "ada", 0.62, 0.93)
    result = IdentificationResult(
        candidates=(closest,),
        identified=None,
        threshold=0.7,
        gallery_size=12,
        net_speech_seconds=4.0,
        reason=DecisionReason.LOOK_ALIKE,
        source=ThresholdSource(SourceKind.ADAPTED, "adapted"),
        unknown_probability=0.03,
    )
    answer = IdentificationOut.model_validate(views.identification(result))
    assert answer.unknown and answer.identified is None and answer.reason == "look_alike"
