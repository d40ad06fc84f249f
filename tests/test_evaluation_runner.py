"""The evaluation runner: items embedded in order through the batched pipeline."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxprint.errors import CorruptAudioError, UnsupportedAudioError
from voxprint.evaluation.datasets import AudioItem, Part
from voxprint.evaluation.runner import embed_items
from voxprint.pipeline import EmbeddingPipeline

from fakes import RATE, EnergyVad, ToneEncoder, voice


@pytest.fixture()
def items(tmp_path: Path) -> tuple[AudioItem, ...]:
    made = []
    for index, f0 in enumerate([110, 170, 260, 330, 410]):
        path = tmp_path / f"{index}.wav"
        sf.write(path, voice(f0, 2.0 + 0.5 * index, seed=index, silence=0.4), RATE)
        made.append(
            AudioItem(f"k{index}", f"s{index}", path, Part.FIRST_HALF if index == 2 else Part.WHOLE)
        )
    silent = tmp_path / "silent.wav"
    quiet = 0.001 * np.random.default_rng(0).standard_normal(RATE)  # below the VAD's level
    sf.write(silent, quiet.astype(np.float32), RATE)
    made.insert(3, AudioItem("silent", "nobody", silent))
    return tuple(made)


def pipeline() -> EmbeddingPipeline:
    return EmbeddingPipeline(ToneEncoder(), vad=EnergyVad())


def test_items_are_embedded_in_order_like_the_single_file_pipeline(items):
    embedded = embed_items(pipeline(), items, batch_size=2)
    assert embedded.keys == tuple(item.key for item in items)
    assert embedded.embeddings.shape == (len(items), 64)
    assert embedded.items_without_speech == 1  # the silent item, embedded whole
    for row, item in enumerate(items):
        if item.key == "silent":
            continue
        waveform = pipeline().load(item.path)
        if item.part is Part.FIRST_HALF:
            waveform = waveform[: len(waveform) // 2]
        expected = pipeline().process_waveform(waveform, force=True).embedding
        np.testing.assert_allclose(embedded.embeddings[row], expected, atol=1e-6)
    total = sum(sf.info(str(item.path)).duration for item in items)
    half = sf.info(str(items[2].path)).duration / 2
    assert embedded.audio_seconds == pytest.approx(total - half, abs=1e-3)
    assert embedded.processing_seconds > 0


def test_an_unreadable_item_stops_the_evaluation_with_its_error(items, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    bad = (*items, AudioItem("broken", "s9", broken))
    with pytest.raises((CorruptAudioError, UnsupportedAudioError)) as refused:
        embed_items(pipeline(), bad)
    # among a data set's many files, the message names the one at fault
    assert refused.value.message.startswith("broken: ")


def test_trial_scores_read_each_cosine_as_the_operating_points_models_do(rng):
    """A namespace mixing bands: an app recording against a telephone one is centred on
    each band's own centre, as verify centres a claim, and capped by the shipped one."""
    from voxprint.adaptation import Band
    from voxprint.decision import OperatingPoint, SourceKind, ThresholdSource
    from voxprint.evaluation.datasets import EvalSet, Trial
    from voxprint.evaluation.runner import EmbeddedSet, trial_scores
    from voxprint.scoring.llr import LogisticModel
    from voxprint.scoring.similarity import l2_normalise

    line, app, voice_a = l2_normalise(rng.normal(size=(3, 16)).astype(np.float32))
    call = l2_normalise(voice_a + 1.2 * line)
    enrolled = l2_normalise(voice_a + 1.2 * app)
    keys = ("call", "enrolled")
    embedded = EmbeddedSet(keys, np.stack([call, enrolled]), 1.0, 1.0, 0, (3400.0, 7600.0))
    trials = EvalSet("t", (), (Trial("enrolled", "call", True), Trial("call", "enrolled", False)))
    shipped = np.zeros(16, dtype=np.float32)
    point = OperatingPoint(
        models={band: LogisticModel(10.0, -2.0) for band in Band},
        source=ThresholdSource(SourceKind.PRIOR, "test"),
        centre=shipped,
        band_centres={Band.NARROW: 0.7 * line, Band.WIDE: 0.7 * app},
    )
    target, _ = trial_scores(trials, embedded, point)
    expected = l2_normalise(call - 0.7 * line) @ l2_normalise(enrolled - 0.7 * app)
    assert target[0] == pytest.approx(float(expected), abs=1e-5)
    assert target[0] > float(call @ enrolled) + 0.2  # each side's channel taken out
    capped, _ = trial_scores(trials, embedded, replace(point, ceiling_centre=shipped))
    assert capped[0] == pytest.approx(float(call @ enrolled), abs=1e-5)
    plain, _ = trial_scores(trials, embedded)
    assert plain[0] == pytest.approx(float(call @ enrolled), abs=1e-5)
