"""Audio streams: chunked uploads, recognition from a stream, expiry, deletion, tenants."""

import pytest

from voxprint.api.routes.streams import REGISTRY_KEY
from voxprint.api.streams import StreamFormat, StreamLimits, StreamRegistry
from voxprint.errors import (
    AudioTooLargeError,
    EmptyAudioError,
    ServiceBusyError,
    StreamNotFoundError,
)
from voxprint.live import float_to_pcm16
from voxprint.store import open_store

from apihelp import auth, client_for, issue_key, make_app, voice_wav
from fakes import voice


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def app_and_key(tmp_path):
    app, service = make_app(tmp_path / "s.db")
    return app, service, issue_key(service, "tenant-a")


def enrolled_profile(client, key, fundamental=150.0, name="alice"):
    created = client.post("/v1/profiles", json={"name": name}, headers=auth(key))
    assert created.status_code == 201, created.text
    profile_id = created.json()["id"]
    response = client.post(
        f"/v1/profiles/{profile_id}/enrollments",
        content=voice_wav(fundamental, 12, seed=1),
        headers={**auth(key), "Content-Type": "audio/wav"},
    )
    assert response.json()["status"] == "enrolled", response.text
    return profile_id


def upload(client, key, data: bytes, fmt: str, pieces: int = 3) -> str:
    created = client.post("/v1/streams", json={"format": fmt}, headers=auth(key))
    assert created.status_code == 201, created.text
    stream_id = created.json()["id"]
    step = len(data) // pieces + 1
    for start in range(0, len(data), step):
        response = client.post(
            f"/v1/streams/{stream_id}", content=data[start : start + step], headers=auth(key)
        )
        assert response.status_code == 200, response.text
    return stream_id


def test_pcm_chunks_append_and_enrol_a_profile_from_the_stream(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        profile_id = client.post("/v1/profiles", json={"name": "bob"}, headers=auth(key)).json()[
            "id"
        ]
        pcm = float_to_pcm16(voice(150, 12, seed=3))
        stream_id = upload(client, key, pcm, "pcm16", pieces=5)  # pieces split samples
        info = client.get(f"/v1/streams/{stream_id}", headers=auth(key)).json()
        assert info["bytes"] == len(pcm)
        assert info["chunks"] == 5
        assert info["format"] == "pcm16"
        assert info["audio_seconds"] == pytest.approx(12.0)
        enrolled = client.post(
            f"/v1/streams/{stream_id}/enroll", params={"profile_id": profile_id}, headers=auth(key)
        )
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["status"] == "enrolled"
        assert enrolled.json()["net_speech_seconds"] > 11


def test_an_encoded_file_uploaded_in_pieces_verifies_and_identifies(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        profile_id = enrolled_profile(client, key)
        same = upload(client, key, voice_wav(150, 4, seed=7), "encoded")
        other = upload(client, key, voice_wav(230, 4, seed=8), "encoded")
        verified = client.post(
            f"/v1/streams/{same}/verify", params={"profile_id": profile_id}, headers=auth(key)
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["decision"] == "accept"
        rejected = client.post(
            f"/v1/streams/{other}/verify", params={"profile_id": profile_id}, headers=auth(key)
        )
        assert rejected.json()["decision"] == "reject"
        found = client.post(f"/v1/streams/{same}/identify", headers=auth(key)).json()
        assert found["identified"]["profile_id"] == profile_id
        assert client.post(f"/v1/streams/{other}/identify", headers=auth(key)).json()["unknown"]


def test_identify_from_a_stream_can_be_limited_to_a_list_of_profiles(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        alice = enrolled_profile(client, key)
        bob = enrolled_profile(client, key, fundamental=260.0, name="bob")
        stream = upload(client, key, voice_wav(150, 4, seed=7), "encoded")
        only_bob = client.post(
            f"/v1/streams/{stream}/identify", params={"profile_ids": bob}, headers=auth(key)
        )
        assert only_bob.status_code == 200, only_bob.text
        assert only_bob.json()["unknown"] and only_bob.json()["gallery_size"] == 1
        both = client.post(
            f"/v1/streams/{stream}/identify",
            params={"profile_ids": f"{alice},{bob}"},
            headers=auth(key),
        )
        assert both.json()["identified"]["profile_id"] == alice
        bad = client.post(
            f"/v1/streams/{stream}/identify", params={"profile_ids": "nope"}, headers=auth(key)
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


def test_a_stream_defaults_to_an_encoded_file_and_an_empty_one_cannot_be_used(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        created = client.post("/v1/streams", headers=auth(key))
        assert created.status_code == 201
        assert created.json()["format"] == "encoded"
        assert created.json()["audio_seconds"] is None
        response = client.post(f"/v1/streams/{created.json()['id']}/identify", headers=auth(key))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "empty_audio"
        bad = client.post("/v1/streams", json={"format": "mp3"}, headers=auth(key))
        assert bad.status_code == 422


def test_a_pcm16_stream_refuses_a_chunk_that_is_an_audio_file_and_keeps_nothing_of_it(
    app_and_key,
):
    """Found in a walkthrough: a WAV file appended to a pcm16 stream was identified,
    its header taken for samples, with no word said."""
    app, _, key = app_and_key
    with client_for(app) as client:
        stream_id = client.post("/v1/streams", json={"format": "pcm16"}, headers=auth(key)).json()[
            "id"
        ]
        wav = voice_wav(150, 2, seed=4)
        refused = client.post(
            f"/v1/streams/{stream_id}",
            content=wav,
            headers={**auth(key), "Content-Type": "audio/wav"},
        )
        assert refused.status_code == 415, refused.text
        assert refused.json()["error"]["code"] == "unsupported_media"
        assert "WAV file" in refused.json()["error"]["message"]
        assert '"format": "encoded"' in refused.json()["error"]["message"]
        assert client.get(f"/v1/streams/{stream_id}", headers=auth(key)).json()["bytes"] == 0
        pcm = float_to_pcm16(voice(150, 2, seed=4))
        taken = client.post(f"/v1/streams/{stream_id}", content=pcm, headers=auth(key))
        assert taken.status_code == 200 and taken.json()["bytes"] == len(pcm)
        assert upload(client, key, wav, "encoded")  # an encoded stream takes the file


def test_a_chunk_sent_as_a_form_or_as_text_is_refused_not_appended(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        stream_id = client.post("/v1/streams", json={}, headers=auth(key)).json()["id"]
        form = client.post(
            f"/v1/streams/{stream_id}",
            files={"audio": ("a.wav", voice_wav(150, 1), "audio/wav")},
            headers=auth(key),
        )
        assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media"
        for media in ("text/plain", "application/json"):
            text = client.post(
                f"/v1/streams/{stream_id}",
                content=b'{"audio": 1}',
                headers={**auth(key), "Content-Type": media},
            )
            assert text.status_code == 415, media
        info = client.get(f"/v1/streams/{stream_id}", headers=auth(key)).json()
        assert info["bytes"] == 0 and info["chunks"] == 0


def test_a_chunk_sent_with_curls_default_content_type_is_appended(app_and_key):
    """``curl --data-binary`` without a type sends a form's type (found in review: the
    README's append example was refused once forms were)."""
    app, _, key = app_and_key
    with client_for(app) as client:
        stream_id = client.post("/v1/streams", json={"format": "pcm16"}, headers=auth(key))
        stream_id = stream_id.json()["id"]
        pcm = float_to_pcm16(voice(150, 1, seed=3))
        taken = client.post(
            f"/v1/streams/{stream_id}",
            content=pcm,
            headers={**auth(key), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert taken.status_code == 200, taken.text
        assert taken.json()["bytes"] == len(pcm)


def test_only_a_pcm16_streams_first_chunk_is_checked_for_a_file_header(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        stream_id = upload(client, key, b"\x00\x01" * 100, "pcm16", pieces=1)
        riff_like = b"RIFF" + b"\x00\x01" * 50  # samples that happen to start like a header
        later = client.post(f"/v1/streams/{stream_id}", content=riff_like, headers=auth(key))
        assert later.status_code == 200, later.text


def test_delete_removes_a_stream_for_good(app_and_key):
    app, _, key = app_and_key
    with client_for(app) as client:
        stream_id = upload(client, key, b"\x00\x01" * 100, "pcm16", pieces=1)
        assert client.delete(f"/v1/streams/{stream_id}", headers=auth(key)).status_code == 204
        for response in (
            client.get(f"/v1/streams/{stream_id}", headers=auth(key)),
            client.post(f"/v1/streams/{stream_id}", content=b"\x00\x00", headers=auth(key)),
            client.delete(f"/v1/streams/{stream_id}", headers=auth(key)),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "stream_not_found"


def test_another_tenants_stream_answers_404_and_needs_a_key(app_and_key):
    app, service, key = app_and_key
    other_key = issue_key(service, "tenant-b", name="other")
    with client_for(app) as client:
        stream_id = upload(client, key, float_to_pcm16(voice(150, 2)), "pcm16")
        assert client.get(f"/v1/streams/{stream_id}").status_code == 401
        for response in (
            client.get(f"/v1/streams/{stream_id}", headers=auth(other_key)),
            client.post(f"/v1/streams/{stream_id}", content=b"\x00\x00", headers=auth(other_key)),
            client.post(f"/v1/streams/{stream_id}/identify", headers=auth(other_key)),
            client.delete(f"/v1/streams/{stream_id}", headers=auth(other_key)),
        ):
            assert response.status_code == 404
        assert client.get(f"/v1/streams/{stream_id}", headers=auth(key)).json()["bytes"] > 0


@pytest.mark.process_local
def test_idle_streams_expire_and_activity_keeps_them_alive(app_and_key):
    app, _, key = app_and_key
    clock = Clock()
    with client_for(app) as client:
        app.state.voxprint.extensions[REGISTRY_KEY] = StreamRegistry(
            app.state.voxprint.service.store, StreamLimits(idle_seconds=60), clock=clock
        )
        kept = upload(client, key, b"\x00\x00", "pcm16", pieces=1)
        dropped = upload(client, key, b"\x00\x00", "pcm16", pieces=1)
        clock.now += 50
        assert client.post(f"/v1/streams/{kept}", content=b"\x01\x00", headers=auth(key)).is_success
        clock.now += 20  # dropped idle 70 s, kept idle 20 s
        assert client.get(f"/v1/streams/{dropped}", headers=auth(key)).status_code == 404
        assert client.get(f"/v1/streams/{kept}", headers=auth(key)).json()["bytes"] == 4


def test_stream_size_and_count_limits_bound_memory(tmp_path):
    app, service = make_app(tmp_path / "s.db", max_upload_bytes=1000, stream_max_count=2)
    key = issue_key(service)
    with client_for(app) as client:
        first = client.post("/v1/streams", headers=auth(key)).json()["id"]
        client.post("/v1/streams", headers=auth(key))
        third = client.post("/v1/streams", headers=auth(key))
        assert third.status_code == 429
        assert client.post(f"/v1/streams/{first}", content=b"x" * 800, headers=auth(key)).is_success
        over = client.post(f"/v1/streams/{first}", content=b"x" * 300, headers=auth(key))
        assert over.status_code == 413
        assert client.get(f"/v1/streams/{first}", headers=auth(key)).json()["bytes"] == 800


@pytest.fixture(params=["sqlite", "postgresql"])
def stream_store(request, tmp_path):
    url = str(tmp_path / "streams.db")
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    store = open_store(url)
    yield store
    store.close()


def test_the_registry_keeps_namespaces_apart_and_sweeps_expired_streams(stream_store):
    clock = Clock()
    registry = StreamRegistry(
        stream_store,
        StreamLimits(idle_seconds=10, max_streams=1, max_stream_bytes=4, max_namespace_bytes=6),
        clock=clock,
    )
    a = registry.create("a", StreamFormat.PCM16)
    b = registry.create("b")
    with pytest.raises(ServiceBusyError):
        registry.create("a")
    with pytest.raises(StreamNotFoundError):
        registry.append("b", a.id, b"\x00\x00")
    with pytest.raises(EmptyAudioError):
        registry.audio("a", a.id)
    registry.append("a", a.id, b"\xff\x7f\x00")  # one sample and half of the next
    samples, rate = registry.audio("a", a.id)
    assert rate == 16000
    assert samples.tolist() == pytest.approx([32767 / 32768])
    with pytest.raises(AudioTooLargeError):
        registry.append("a", a.id, b"\x00\x00")
    clock.now += 10
    assert registry.sweep() == 2
    assert registry.count() == 0
    with pytest.raises(StreamNotFoundError):
        registry.info("b", b.id)


def test_a_stream_opened_through_one_store_is_appended_and_read_through_another(stream_store):
    """Two workers = two store objects (two processes' pools) on one database."""
    url = str(stream_store.path) if hasattr(stream_store, "path") else stream_store.url
    other = open_store(url)
    try:
        clock = Clock()
        first = StreamRegistry(stream_store, clock=clock)
        second = StreamRegistry(other, clock=clock)
        opened = first.create("a", StreamFormat.PCM16)
        second.append("a", opened.id, b"\x00\x40")
        first.append("a", opened.id, b"\x00\xc0")
        samples, _ = second.audio("a", opened.id)
        assert samples.tolist() == [0.5, -0.5]
        assert first.info("a", opened.id).chunks == 2
        second.delete("a", opened.id)
        with pytest.raises(StreamNotFoundError):
            first.audio("a", opened.id)
    finally:
        other.close()
