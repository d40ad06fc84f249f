"""Evaluation sets: speaker folders, trial lists and the standard protocols."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxprint.errors import DatasetError
from voxprint.evaluation.datasets import (
    AudioItem,
    Part,
    build_protocol,
    folder_eval_set,
    load_item,
    speaker_folders,
    trial_list_eval_set,
)

from fakes import RATE, voice


@pytest.fixture()
def dataset(tmp_path) -> Path:
    for name, count in [("a", 3), ("b", 2)]:
        (tmp_path / name).mkdir()
        for i in range(count):
            sf.write(tmp_path / name / f"{i}.wav", voice(100 + i, 1.0), RATE)
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    (tmp_path / ".hidden").mkdir()
    return tmp_path


def test_speaker_folders_lists_audio_files_per_sub_folder(dataset):
    speakers = speaker_folders(dataset)
    assert list(speakers) == ["a", "b"]
    assert [p.name for p in speakers["a"]] == ["0.wav", "1.wav", "2.wav"]


def test_a_folder_set_makes_every_pair_a_trial(dataset):
    eval_set = folder_eval_set(dataset)
    assert len(eval_set.items) == 5 and len(eval_set.trials) == 10
    assert sum(t.target for t in eval_set.trials) == 3 + 1
    assert eval_set.gallery_keys is None


def test_folders_without_speakers_or_audio_are_refused(tmp_path):
    with pytest.raises(DatasetError):
        speaker_folders(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no speaker sub-folders"):
        speaker_folders(tmp_path)


def test_a_trial_list_is_read_with_labels_and_checked(dataset):
    trials = dataset / "trials.txt"
    trials.write_text("# comment\n1 a/0.wav a/1.wav\n\n0 a/0.wav b/1.wav\n")
    eval_set = trial_list_eval_set(dataset, trials)
    assert [(t.enrol, t.test, t.target) for t in eval_set.trials] == [
        ("a/0.wav", "a/1.wav", True),
        ("a/0.wav", "b/1.wav", False),
    ]
    assert {i.speaker for i in eval_set.items} == {"a", "b"}
    trials.write_text("1 a/0.wav a/9.wav\n")
    with pytest.raises(DatasetError, match="does not exist"):
        trial_list_eval_set(dataset, trials)
    trials.write_text("2 a/0.wav a/1.wav\n")
    with pytest.raises(DatasetError, match="label"):
        trial_list_eval_set(dataset, trials)


def test_items_can_be_cut_into_halves(dataset):
    path = dataset / "a" / "0.wav"
    whole = load_item(AudioItem("w", "a", path))
    first = load_item(AudioItem("f", "a", path, Part.FIRST_HALF))
    second = load_item(AudioItem("s", "a", path, Part.SECOND_HALF))
    assert len(first) + len(second) == len(whole)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)


def test_an_unknown_protocol_or_missing_data_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="unknown protocol"):
        build_protocol("voxceleb", tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        build_protocol("test-other", tmp_path)


@pytest.mark.data
def test_the_standard_protocols_have_the_documented_sizes(data_root):
    test_other = build_protocol("test-other", data_root)
    assert len(test_other.items) == 100
    assert len(test_other.trials) == 4950
    assert sum(t.target for t in test_other.trials) == 450
    halves = build_protocol("tc100-halves", data_root)
    assert len(halves.items) == 502 and len(halves.trials) == 251 * 251
    assert sum(t.target for t in halves.trials) == 251


def test_derived_conditions_draw_the_same_transforms_for_the_same_key_every_time(tmp_path):
    from voxprint.evaluation.datasets import Condition
    from voxprint.evaluation.transforms import BandLimit, Crop, MixNoise

    noise = (tmp_path / "a.wav", tmp_path / "b.wav")
    noisy = Condition(crop_seconds=3.0, snr_db=0.0)
    first = noisy.transforms("19#second", noise)
    assert first == noisy.transforms("19#second", noise)
    assert first != noisy.transforms("26#second", noise)
    assert isinstance(first[0], Crop) and isinstance(first[1], MixNoise)
    # Same crop as the clean 3 s condition, same noise stretch at another SNR.
    assert first[0] == Condition(crop_seconds=3.0).transforms("19#second", ())[0]
    louder = Condition(crop_seconds=3.0, snr_db=5.0).transforms("19#second", noise)[1]
    assert isinstance(louder, MixNoise) and first[1] == MixNoise(louder.noise, 0.0, louder.position)
    assert Condition(band_limit_rate=8000).transforms("x", ()) == (BandLimit(8000),)
    with pytest.raises(DatasetError, match="noise"):
        noisy.transforms("x", ())


def test_an_item_is_loaded_with_its_transforms(dataset):
    from voxprint.evaluation.transforms import Crop

    path = dataset / "a" / "0.wav"
    whole = load_item(AudioItem("w", "a", path))
    cropped = load_item(AudioItem("c", "a", path, transforms=(Crop(0.25, 1.0),)))
    np.testing.assert_array_equal(cropped, whole[-4000:])


@pytest.mark.data
def test_every_derived_protocol_builds_deterministically_with_the_documented_sizes(data_root):
    from voxprint.evaluation.datasets import PROTOCOLS, cohort_items

    expected = {
        "test-3s": (502, 251 * 251, 251),
        "both-2s": (502, 251 * 251, 251),
        "noise-5dB": (502, 251 * 251, 251),
        "noise-0dB": (502, 251 * 251, 251),
        "tel-8k": (502, 251 * 251, 251),
        "fsdd": (600, 179_700, 29_700),
    }
    assert set(expected) | {"test-other", "tc100-halves"} == set(PROTOCOLS)
    for name, (items, trials, targets) in expected.items():
        built = build_protocol(name, data_root)
        assert built.name == name
        assert (len(built.items), len(built.trials)) == (items, trials)
        assert sum(t.target for t in built.trials) == targets
        assert build_protocol(name, data_root) == built
        enrol, test = cohort_items(name, data_root)
        trial_speakers = {i.speaker for i in built.items}
        assert enrol and test and not trial_speakers & {i.speaker for i in enrol + test}
    both = build_protocol("both-2s", data_root)
    assert all(len(load_item(i)) <= 2 * 16000 for i in both.items[::50])
    fsdd = build_protocol("fsdd", data_root)
    assert len({i.speaker for i in fsdd.items}) == 6
