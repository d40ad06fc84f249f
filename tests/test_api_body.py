"""The one request-parsing module: audio, multipart forms and JSON, and its 4xx errors."""

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from voxprint.api.body import parse_json, read_audio, read_form, read_json
from voxprint.api.errors import install_error_handlers
from voxprint.errors import InvalidParameterError

LIMIT = 100


class Pair(BaseModel):
    first: int
    second: int


def parsing_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/json")
    async def json_value(request: Request) -> dict[str, Any]:
        return {"value": await read_json(request, LIMIT)}

    @app.post("/pair")
    async def pair(request: Request) -> Pair:
        return await read_json(request, LIMIT, Pair)

    @app.post("/audio")
    async def audio(request: Request) -> dict[str, Any]:
        upload = await read_audio(request, LIMIT)
        return {
            "data": upload.data.decode(),
            "content_type": upload.content_type,
            "filename": upload.filename,
            "fields": upload.fields,
        }

    @app.post("/form")
    async def form(request: Request) -> dict[str, Any]:
        parsed = await read_form(request, LIMIT)
        return {"files": sorted(parsed.files), "fields": parsed.fields}

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(parsing_app(), raise_server_exceptions=False) as client:
        yield client


def error_of(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_json_is_read_as_a_value_or_validated_as_a_model(client):
    json_type = {"Content-Type": "application/json; charset=utf-8"}
    assert client.post("/json", content="[1, 2]", headers=json_type).json() == {"value": [1, 2]}
    answer = client.post("/pair", content='{"first": 1, "second": 2}', headers=json_type)
    assert answer.json() == {"first": 1, "second": 2}


def test_json_with_another_content_type_is_a_415(client):
    for content_type in ("text/plain", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        error = error_of(client.post("/json", content="{}", headers=headers), 415)
        assert error["code"] == "unsupported_media"
        assert "application/json" in error["message"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        ("{not json", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_an_empty_or_malformed_json_body_is_a_400_invalid_parameter(client, body, says):
    response = client.post("/json", content=body, headers={"Content-Type": "application/json"})
    error = error_of(response, 400)
    assert error["code"] == "invalid_parameter"
    assert says in error["message"]


def test_json_of_the_wrong_shape_is_a_400_naming_the_field(client):
    response = client.post(
        "/pair", content='{"first": "one"}', headers={"Content-Type": "application/json"}
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid_parameter"
    assert "first" in error["message"] and "second" in error["message"]


def test_a_json_body_over_the_limit_is_a_413(client):
    body = "[" + ",".join(["1"] * LIMIT) + "]"
    response = client.post("/json", content=body, headers={"Content-Type": "application/json"})
    assert error_of(response, 413)["code"] == "audio_too_large"


def test_parse_json_has_the_same_contract_for_text_from_a_form_field():
    assert parse_json('{"first": 1, "second": 2}', Pair) == Pair(first=1, second=2)
    for text in ("", "{", '{"first": 1}', "[" * 5000, '{"first": ' + "[" * 5000):
        with pytest.raises(InvalidParameterError):
            parse_json(text, Pair)


def test_raw_audio_keeps_its_content_type_and_other_types_are_a_415(client):
    answer = client.post("/audio", content=b"RIFF", headers={"Content-Type": "audio/wav"})
    assert answer.json()["data"] == "RIFF"
    assert answer.json()["content_type"] == "audio/wav"
    no_type = client.post("/audio", content=b"RIFF")
    assert no_type.json()["content_type"] == "application/octet-stream"
    refused = client.post("/audio", content=b"{}", headers={"Content-Type": "application/json"})
    assert error_of(refused, 415)["code"] == "unsupported_media"


def test_multipart_audio_is_its_one_file_part_with_the_fields(client):
    files = {"audio": ("a.wav", b"audio", "AUDIO/WAV")}
    answer = client.post("/audio", files=files, data={"label": "x"}).json()
    assert answer == {
        "data": "audio",
        "content_type": "audio/wav",
        "filename": "a.wav",
        "fields": {"label": "x"},
    }
    answer = client.post("/audio", files={"upload": ("u.flac", b"first", "audio/flac")}).json()
    assert (answer["data"], answer["filename"]) == ("first", "u.flac")


def test_more_than_one_audio_file_is_a_400_not_one_of_them_kept(client):
    """Found in a walkthrough: two files in one enrolment enrolled the second only, with
    a 201 that acknowledged one clip."""
    two_fields = {"other": ("o.wav", b"o", "audio/wav"), "audio": ("a.wav", b"a", "audio/wav")}
    error = error_of(client.post("/audio", files=two_fields), 400)
    assert error["code"] == "invalid_parameter" and "'other', 'audio'" in error["message"]
    one_name_twice = [
        ("audio", ("1.wav", b"1", "audio/wav")),
        ("audio", ("2.wav", b"2", "audio/wav")),
    ]
    for path in ("/audio", "/form"):
        error = error_of(client.post(path, files=one_name_twice), 400)
        assert error["code"] == "invalid_parameter"
        assert "more than one file named 'audio'" in error["message"]


def test_a_multipart_body_without_a_file_or_malformed_is_a_400_not_a_500(client):
    boundary = "b0undary"
    only_fields = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\nx\r\n'
        f"--{boundary}--\r\n"
    )
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    error = error_of(client.post("/audio", content=only_fields, headers=multipart), 400)
    assert error["code"] == "invalid_parameter"
    assert "no file part" in error["message"]
    no_boundary = {"Content-Type": "multipart/form-data"}
    for path in ("/audio", "/form"):
        error = error_of(client.post(path, content=b"junk", headers=no_boundary), 400)
        assert error["code"] == "invalid_parameter"
        assert "malformed multipart" in error["message"]


def test_every_file_of_a_form_is_read_and_one_over_the_limit_is_a_413(client):
    files = {"first": ("1.wav", b"1", "audio/wav"), "second": ("2.wav", b"2", "audio/wav")}
    answer = client.post("/form", files=files, data={"request": "{}"}).json()
    assert answer == {"files": ["first", "second"], "fields": {"request": "{}"}}
    big = {"first": ("1.wav", b"x" * (LIMIT + 1), "audio/wav")}
    for path in ("/form", "/audio"):
        error = error_of(client.post(path, files=big), 413)
        assert error["code"] == "audio_too_large"
        assert "'first'" in error["message"]
