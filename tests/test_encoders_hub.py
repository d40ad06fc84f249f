"""Optional hub downloads: parsed strictly, never required, clear errors offline."""

import sys
import types
from pathlib import Path

import pytest

from voxprint.encoders import load_encoder
from voxprint.encoders.hub import (
    CAMPPLUS_HUB_FILE,
    HubFile,
    download,
    is_hub_reference,
    parse_hub_reference,
)
from voxprint.encoders.weights import find_weights
from voxprint.errors import WeightsNotFoundError


def test_a_hub_reference_names_hub_repo_file_and_revision():
    ref = parse_hub_reference("huggingface:owner/repo/sub/model.pt@v2")
    assert ref == HubFile("huggingface", "owner/repo", "sub/model.pt", "v2")
    assert str(ref) == "huggingface:owner/repo/sub/model.pt@v2"
    assert parse_hub_reference(str(CAMPPLUS_HUB_FILE)) == CAMPPLUS_HUB_FILE
    assert is_hub_reference("modelscope:a/b/c") and not is_hub_reference("/tmp/model.pt")


@pytest.mark.parametrize("text", ["ftp:a/b/c", "modelscope:a/b", "modelscope:a//c", "plain"])
def test_malformed_hub_references_are_refused(text):
    with pytest.raises(WeightsNotFoundError):
        parse_hub_reference(text)


def test_without_the_hub_client_a_download_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "modelscope", None)
    monkeypatch.setitem(sys.modules, "modelscope.hub", None)
    monkeypatch.setitem(sys.modules, "modelscope.hub.file_download", None)
    with pytest.raises(WeightsNotFoundError, match="pip install modelscope"):
        download(CAMPPLUS_HUB_FILE)


def fake_huggingface(monkeypatch, behaviour):
    module = types.ModuleType("huggingface_hub")
    module.hf_hub_download = behaviour  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)


def test_a_network_failure_becomes_a_weights_error(monkeypatch):
    def offline(**_kwargs):
        raise OSError("network is unreachable")

    fake_huggingface(monkeypatch, offline)
    with pytest.raises(WeightsNotFoundError, match="network is unreachable"):
        download(parse_hub_reference("huggingface:o/r/f.pt"))


def test_a_downloaded_file_is_loaded_as_the_encoders_weights(monkeypatch):
    bundled = find_weights_path()
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        return str(bundled)

    fake_huggingface(monkeypatch, fetch)
    encoder = load_encoder("campplus", "huggingface:mirror/campplus/campplus_cn_en_common.pt")
    assert calls[0]["repo_id"] == "mirror/campplus"
    assert calls[0]["filename"] == "campplus_cn_en_common.pt"
    assert encoder.version == load_encoder("campplus").version


def test_a_local_weights_path_is_used_as_given(tmp_path):
    with pytest.raises(WeightsNotFoundError):
        load_encoder("campplus", tmp_path / "missing.pt")


def find_weights_path() -> Path:
    from voxprint.encoders.weights import CAMPPLUS_WEIGHTS

    return find_weights(CAMPPLUS_WEIGHTS)
