"""The fused encoder: weighted, centred parts side by side, one embedding."""

from __future__ import annotations

import numpy as np
import pytest

from voxprint.encoders import SpeakerEncoder, load_encoder
from voxprint.encoders.fused import FusedEncoder, FusionPart
from voxprint.encoders.registry import GE2E_FUSION_WEIGHT
from voxprint.errors import InvalidParameterError, ModelError, NoSpeechError, WeightsNotFoundError


class _Fixed:
    """A stand-in encoder: the unit vector of a fixed projection of the waveform."""

    def __init__(self, name: str, dimension: int, seed: int, sample_rate: int = 16000) -> None:
        self._name = name
        self._dimension = dimension
        self._rate = sample_rate
        self._projection = np.random.default_rng(seed).normal(size=(dimension, 64))

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return f"{self._name}-v1"

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        vector = self._projection @ np.resize(waveform, 64)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


def _waveforms(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [rng.normal(size=1600).astype(np.float32) for _ in range(n)]


def test_the_cosine_of_two_fused_embeddings_is_the_weighted_sum_of_the_parts_cosines(
    rng: np.random.Generator,
) -> None:
    a, b = _Fixed("a", 8, 1), _Fixed("b", 5, 2)
    fused = FusedEncoder("a+b", [FusionPart(a, 0.7), FusionPart(b, 0.3)])
    x, y = _waveforms(rng, 2)
    expected = 0.7 * float(a.embed(x) @ a.embed(y)) + 0.3 * float(b.embed(x) @ b.embed(y))
    ex, ey = fused.embed(x), fused.embed(y)
    assert isinstance(fused, SpeakerEncoder)
    assert ex.shape == (13,) and ex.dtype == np.float32 and fused.dimension == 13
    assert float(np.linalg.norm(ex)) == pytest.approx(1.0, abs=1e-6)
    assert float(ex @ ey) == pytest.approx(expected, abs=1e-6)


def test_a_centred_part_has_its_centre_taken_off_before_it_is_weighted(
    rng: np.random.Generator,
) -> None:
    a, b = _Fixed("a", 8, 1), _Fixed("b", 5, 2)
    centre = np.full(5, 0.2, dtype=np.float32)
    fused = FusedEncoder("a+b", [FusionPart(a, 0.5), FusionPart(b, 0.5, centre)])
    x, y = _waveforms(rng, 2)

    def centred(v: np.ndarray) -> np.ndarray:
        return (v - centre) / np.linalg.norm(v - centre)

    part_b = float(centred(b.embed(x)) @ centred(b.embed(y)))
    expected = 0.5 * float(a.embed(x) @ a.embed(y)) + 0.5 * part_b
    assert float(fused.embed(x) @ fused.embed(y)) == pytest.approx(expected, abs=1e-6)
    plain = FusedEncoder("a+b", [FusionPart(a, 0.5), FusionPart(b, 0.5)])
    assert plain.version != fused.version  # a different centre is a different encoder


def test_a_batch_embeds_each_waveform_as_embed_does(rng: np.random.Generator) -> None:
    fused = FusedEncoder(
        "a+b", [FusionPart(_Fixed("a", 8, 1), 0.6), FusionPart(_Fixed("b", 5, 2), 0.4)]
    )
    waveforms = _waveforms(rng, 3)
    batch = fused.embed_batch(waveforms)
    assert batch.shape == (3, 13)
    for row, waveform in zip(batch, waveforms, strict=True):
        np.testing.assert_allclose(row, fused.embed(waveform), atol=1e-6)
    assert fused.embed_batch([]).shape == (0, 13)


@pytest.mark.parametrize(
    ("weights", "match"),
    [((0.5, 0.4), "sum to 1"), ((1.2, -0.2), "positive")],
)
def test_fusion_weights_must_be_positive_and_sum_to_one(
    weights: tuple[float, float], match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        FusedEncoder(
            "a+b",
            [FusionPart(_Fixed("a", 8, 1), weights[0]), FusionPart(_Fixed("b", 5, 2), weights[1])],
        )


def test_fusion_refuses_one_encoder_mixed_rates_and_bad_centres() -> None:
    a = _Fixed("a", 8, 1)
    with pytest.raises(InvalidParameterError, match="at least two"):
        FusedEncoder("a", [FusionPart(a, 1.0)])
    with pytest.raises(InvalidParameterError, match="sample rate"):
        FusedEncoder("a+b", [FusionPart(a, 0.5), FusionPart(_Fixed("b", 5, 2, 8000), 0.5)])
    with pytest.raises(InvalidParameterError, match="5 finite values"):
        FusionPart(_Fixed("b", 5, 2), 0.5, np.zeros(4, dtype=np.float32))
    with pytest.raises(InvalidParameterError, match="inside the unit sphere"):
        FusionPart(_Fixed("b", 5, 2), 0.5, np.ones(5, dtype=np.float32))


class _Warmable(_Fixed):
    """A stand-in that records warm-ups and reports a runtime choice."""

    def __init__(self, *args: object, choice: str | None = None) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.warmed = 0
        self.runtime_choice = choice

    def warm_up(self) -> None:
        self.warmed += 1


def test_warming_the_fusion_warms_each_part_and_reports_the_first_runtime_choice() -> None:
    a, b = _Warmable("a", 8, 1), _Warmable("b", 5, 2, choice="onnx, measured")
    fused = FusedEncoder("a+b", [FusionPart(a, 0.5), FusionPart(b, 0.5)])
    fused.warm_up()
    assert (a.warmed, b.warmed) == (1, 1)
    assert fused.runtime_choice == "onnx, measured"
    plain = FusedEncoder("a+b", [FusionPart(_Fixed("a", 8, 1), 0.5), FusionPart(a, 0.5)])
    assert plain.runtime_choice is None


def test_a_part_returning_the_wrong_shape_is_a_model_error(rng: np.random.Generator) -> None:
    class Liar(_Fixed):
        @property
        def dimension(self) -> int:
            return 6  # embeds 5 values

    fused = FusedEncoder(
        "a+b", [FusionPart(_Fixed("a", 8, 1), 0.5), FusionPart(Liar("b", 5, 2), 0.5)]
    )
    with pytest.raises(ModelError, match="shape"):
        fused.embed(_waveforms(rng, 1)[0])


def test_a_parts_error_reaches_the_caller(rng: np.random.Generator) -> None:
    class Refuses(_Fixed):
        def embed(self, waveform: np.ndarray) -> np.ndarray:
            raise NoSpeechError("no speech in this clip")

    fused = FusedEncoder(
        "a+b", [FusionPart(_Fixed("a", 8, 1), 0.5), FusionPart(Refuses("b", 5, 2), 0.5)]
    )
    with pytest.raises(NoSpeechError):
        fused.embed(_waveforms(rng, 1)[0])


def test_a_centre_is_copied_so_changing_the_callers_array_changes_nothing(
    rng: np.random.Generator,
) -> None:
    centre = np.full(5, 0.2, dtype=np.float32)
    part = FusionPart(_Fixed("b", 5, 2), 0.5, centre)
    version = part.version
    centre[:] = 0.0
    assert part.version == version and float(part.centre[0]) == pytest.approx(0.2)  # type: ignore[index]
    with pytest.raises(ValueError):
        part.centre[0] = 0.5  # type: ignore[index]


def test_the_bundled_fusion_weighs_campplus_and_centred_ge2e(rng: np.random.Generator) -> None:
    try:
        fused = load_encoder("campplus+ge2e")
    except WeightsNotFoundError as exc:
        pytest.skip(f"bundled weights not installed: {exc}")
    assert isinstance(fused, FusedEncoder)
    assert [p.encoder.name for p in fused.parts] == ["campplus", "ge2e"]
    assert [p.weight for p in fused.parts] == pytest.approx(
        [1 - GE2E_FUSION_WEIGHT, GE2E_FUSION_WEIGHT]
    )
    assert fused.parts[0].centre is None and fused.parts[1].centre is not None
    assert fused.dimension == 192 + 256 and fused.sample_rate == 16000
    speech = (0.1 * rng.normal(size=16000)).astype(np.float32)
    assert float(np.linalg.norm(fused.embed(speech))) == pytest.approx(1.0, abs=1e-5)


def test_the_bundled_fusion_refuses_a_weights_file_or_hub_reference_before_loading(
    tmp_path,
) -> None:
    with pytest.raises(InvalidParameterError, match="bundled weights of both"):
        load_encoder("campplus+ge2e", weights=tmp_path / "x.pt")
    with pytest.raises(InvalidParameterError, match="bundled weights of both"):
        load_encoder("campplus+ge2e", weights="modelscope:owner/repo/file.pt")  # no download
