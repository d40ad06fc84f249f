"""Training speaker encoders: config files, data split and crops, losses, the loop, checkpoints.

Runs on a tiny generated set (four harmonic "speakers", a thin ResNet) so that a
two-epoch training takes seconds; real-data figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from voxprint.decision import SourceKind
from voxprint.encoders import load_encoder
from voxprint.encoders.trained import TrainedEncoder
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import (
    AudioError,
    DatasetError,
    EncoderMismatchError,
    InvalidParameterError,
    ModelError,
    TrainingSettingError,
    UnknownEncoderError,
    WeightsNotFoundError,
)
from voxprint.operating_points import encoder_operating_point
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.store import SQLiteStore
from voxprint.thresholds import Thresholds
from voxprint.training.checkpoint import BEST_CHECKPOINT, CONFIG_FILE, CURVES_FILE
from voxprint.training.config import TrainingConfig, config_from_dict, load_config
from voxprint.training.data import Augmenter, CropSampler, fit_length, load_training_data
from voxprint.training.loop import train
from voxprint.training.losses import AamSoftmaxHead, SoftmaxHead

from fakes import RATE, EnergyVad, voice

FUNDAMENTALS = (100.0, 140.0, 200.0, 280.0)


def write_speakers(root: Path, files: int = 3, seconds: float = 2.0) -> Path:
    for index, f0 in enumerate(FUNDAMENTALS):
        folder = root / f"spk{index}"
        folder.mkdir(parents=True)
        for k in range(files):
            waveform = voice(f0 * (1 + 0.02 * k), seconds, seed=10 * index + k)
            sf.write(folder / f"take{k}.wav", waveform, RATE)
    return root


def tiny_config(**changes) -> TrainingConfig:
    base = TrainingConfig(
        depth=18,
        channels=(4, 4, 8, 8),
        embedding_dim=16,
        crop_seconds=(1.0, 1.2),
        batch_size=16,
        crops_per_epoch=64,
        epochs=2,
        learning_rate=1e-2,
        validation_fraction=0.34,
        num_threads=1,
    )
    return base.replace(**changes)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_speakers(tmp_path_factory.mktemp("speakers"))


@pytest.fixture(scope="module")
def trained_run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return train(dataset, run_dir, tiny_config())


# -- configuration ---------------------------------------------------------------------


def test_config_files_in_toml_and_json_give_the_same_typed_config(tmp_path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('loss = "softmax"\ncrop_seconds = [2, 3]\nepochs = 3\nfreeze = ["stem"]\n')
    as_json = tmp_path / "run.json"
    as_json.write_text(
        json.dumps({"loss": "softmax", "crop_seconds": [2, 3], "epochs": 3, "freeze": ["stem"]})
    )
    from_toml, from_json = load_config(toml), load_config(as_json)
    assert from_toml == from_json
    assert from_toml.crop_seconds == (2.0, 3.0)
    assert from_toml.freeze == ("stem",)
    assert from_toml.optimizer == TrainingConfig().optimizer


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"learning_rat": 0.1}, "unknown training settings: learning_rat"),
        ({"epochs": "ten"}, "epochs must be an integer"),
        ({"epochs": 1.5}, "epochs must be an integer"),
        ({"crop_seconds": [2.0]}, "crop_seconds must have 2 values"),
        ({"loss": "triplet"}, "loss must be one of softmax, aam"),
        ({"augment": "yes"}, "augment must be true or false"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"noise_dir": "noises"}, "noise_dir is mixed in only with augmentation"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(data, message) -> None:
    with pytest.raises(TrainingSettingError, match=message) as refused:
        config_from_dict(data)
    assert refused.value.settings == tuple(data)  # typed: what the CLI maps to its flags


def test_a_config_file_must_be_toml_or_json_and_well_formed(tmp_path) -> None:
    yaml = tmp_path / "run.yaml"
    yaml.write_text("loss: aam\n")
    with pytest.raises(InvalidParameterError, match=r"\.toml or \.json"):
        load_config(yaml)
    broken = tmp_path / "run.toml"
    broken.write_text("loss = \n")
    with pytest.raises(InvalidParameterError, match="invalid TOML"):
        load_config(broken)


# -- data ------------------------------------------------------------------------------


def test_files_are_split_per_speaker_without_overlap(dataset) -> None:
    data = load_training_data(dataset, tiny_config())
    assert data.speakers == ("spk0", "spk1", "spk2", "spk3")
    for speaker in range(4):
        held_out = {r.recording for r in data.validation if r.speaker == speaker}
        trained = {r.recording for r in data.train if r.speaker == speaker}
        assert len(held_out) == 1
        assert len(trained) == 2
        assert not held_out & trained


def test_segments_split_one_file_per_speaker_into_train_and_validation(tmp_path) -> None:
    root = write_speakers(tmp_path / "data", files=1, seconds=7.0)
    config = tiny_config(segment_seconds=1.0, validation_fraction=0.3)
    data = load_training_data(root, config)
    for speaker in range(4):
        validation = [r for r in data.validation if r.speaker == speaker]
        train_regions = [r for r in data.train if r.speaker == speaker]
        assert len(validation) == 2
        assert all(r.length == RATE for r in validation)
        assert sum(r.length for r in train_regions) == 5 * RATE
        covered = np.zeros(7 * RATE, dtype=int)
        for region in validation + train_regions:
            covered[region.start : region.end] += 1
        assert (covered == 1).all()


def test_an_unreadable_file_is_named_in_the_error(tmp_path) -> None:
    for name, f0 in (("a", 120), ("b", 220)):
        (tmp_path / name).mkdir()
        sf.write(tmp_path / name / "1.wav", voice(f0, 1.0), RATE)
    broken = tmp_path / "b" / "2.wav"
    broken.write_bytes(b"RIFF not really")
    with pytest.raises(AudioError) as refused:
        load_training_data(tmp_path, tiny_config())
    assert refused.value.message.startswith(f"{broken}: ")
    # a message that names the file already is not given its name twice
    broken.write_bytes(b"")
    with pytest.raises(AudioError) as empty:
        load_training_data(tmp_path, tiny_config())
    assert empty.value.message.count(str(broken)) == 1


def test_one_file_per_speaker_without_segments_says_how_to_segment(tmp_path) -> None:
    for name, f0 in (("a", 120), ("b", 220)):
        (tmp_path / name).mkdir()
        sf.write(tmp_path / name / "1.wav", voice(f0, 1.0), RATE)
    with pytest.raises(DatasetError, match=r"no validation audio: .*--segment-seconds 2\)"):
        load_training_data(tmp_path, tiny_config())


def test_a_folder_with_one_speaker_cannot_train(tmp_path) -> None:
    (tmp_path / "only").mkdir()
    sf.write(tmp_path / "only" / "a.wav", voice(120, 1.0), RATE)
    with pytest.raises(DatasetError, match="two speaker folders"):
        load_training_data(tmp_path, tiny_config())


def test_crops_have_the_asked_length_and_labels_of_their_speaker(dataset) -> None:
    data = load_training_data(dataset, tiny_config())
    sampler = CropSampler(data, None, np.random.default_rng(0))
    crops, labels = sampler.batch(8, 24000)  # longer than the 2 s files' regions allow
    assert [c.shape for c in crops] == [(24000,)] * 8
    assert labels.dtype == np.int64
    assert set(labels) <= {0, 1, 2, 3}


def test_augmentation_changes_the_signal_but_keeps_its_length(tmp_path) -> None:
    config = tiny_config(augment=True, noise_probability=1.0, speeds=(1.1,), gain_db=(-3.0, -3.0))
    noise = np.random.default_rng(1).normal(0, 0.1, RATE).astype(np.float32)
    augmenter = Augmenter(config, (noise,))
    rng = np.random.default_rng(0)
    clean = voice(150, 1.0)
    take = augmenter.source_length(8000, 1.1)
    out = augmenter.apply(clean[:take], 1.1, 8000, rng)
    assert out.shape == (8000,) and out.dtype == np.float32
    assert not np.allclose(out, clean[:8000] * 10 ** (-3 / 20), atol=1e-3)
    assert np.abs(out).max() <= 1.0
    assert fit_length(np.arange(3.0), 7).tolist() == [0, 1, 2, 0, 1, 2, 0]


# -- losses ----------------------------------------------------------------------------


def test_the_angular_margin_makes_the_true_class_harder() -> None:
    torch.manual_seed(0)
    embeddings, labels = torch.randn(8, 16), torch.arange(8) % 4
    with_margin = AamSoftmaxHead(16, 4, margin=0.3, scale=10.0)
    without = AamSoftmaxHead(16, 4, margin=0.0, scale=10.0)
    without.load_state_dict(with_margin.state_dict())
    loss_margin, logits_margin = with_margin(embeddings, labels)
    loss_plain, logits_plain = without(embeddings, labels)
    assert float(loss_margin.detach()) > float(loss_plain.detach())
    assert torch.allclose(logits_margin, logits_plain)  # accuracy logits carry no margin
    assert float(logits_plain.detach().abs().max()) <= 10.0 + 1e-5
    softmax_loss, softmax_logits = SoftmaxHead(16, 4)(embeddings, labels)
    assert softmax_logits.shape == (8, 4) and float(softmax_loss.detach()) > 0


# -- the training loop and its checkpoints ---------------------------------------------


def test_two_epochs_lower_the_loss_and_best_checkpoint_loads_as_an_encoder(trained_run) -> None:
    history = trained_run.history
    assert [r.epoch for r in history] == [1, 2]
    assert history[1].train_loss < history[0].train_loss
    run_dir = trained_run.run_dir
    for name in (BEST_CHECKPOINT, CONFIG_FILE, CURVES_FILE):
        assert (run_dir / name).is_file()
    assert json.loads((run_dir / CONFIG_FILE).read_text())["epochs"] == 2

    encoder = load_encoder(str(run_dir / BEST_CHECKPOINT))
    assert isinstance(encoder, TrainedEncoder)
    assert encoder.name == "trained-resnet"
    assert encoder.epoch == trained_run.best_epoch
    embedding = encoder.embed(voice(140.0, 1.5, seed=99))
    assert embedding.shape == (16,) and embedding.dtype == np.float32
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    point = encoder_operating_point(encoder)
    assert point.source.kind is SourceKind.PRIOR
    assert encoder.calibration is not None and "validation" in encoder.calibration["source"]
    assert "validation" in point.source.description


def test_the_version_is_a_hash_of_the_weights(trained_run) -> None:
    best = trained_run.run_dir / BEST_CHECKPOINT
    first, again = TrainedEncoder(best), TrainedEncoder(best)
    assert first.version == again.version
    assert first.version.startswith("resnet-")
    data = torch.load(best, weights_only=True)
    key = next(iter(data["state"]))
    data["state"][key] = data["state"][key] + 1.0
    changed = best.with_name("changed.pt")
    torch.save(data, changed)
    assert TrainedEncoder(changed).version != first.version


def test_same_seed_gives_the_same_weights(dataset, tmp_path) -> None:
    config = tiny_config(epochs=1, crops_per_epoch=32)
    one = train(dataset, tmp_path / "a", config)
    two = train(dataset, tmp_path / "b", config)
    three = train(dataset, tmp_path / "c", config.replace(seed=1))
    version = TrainedEncoder(one.best_checkpoint).version
    assert TrainedEncoder(two.best_checkpoint).version == version
    assert TrainedEncoder(three.best_checkpoint).version != version


def test_resume_continues_after_the_last_epoch(dataset, tmp_path) -> None:
    run_dir = tmp_path / "run"
    first = train(dataset, run_dir, tiny_config(epochs=1))
    with pytest.raises(InvalidParameterError, match="already holds a training run"):
        train(dataset, run_dir, tiny_config(epochs=2))
    with pytest.raises(InvalidParameterError, match="different learning_rate"):
        train(dataset, run_dir, tiny_config(epochs=2, learning_rate=0.5), resume=True)
    resumed = train(dataset, run_dir, tiny_config(epochs=2), resume=True)
    assert [r.epoch for r in resumed.history] == [1, 2]
    assert resumed.history[0] == first.history[0]
    with pytest.raises(InvalidParameterError, match="nothing to resume"):
        train(dataset, tmp_path / "empty", tiny_config(), resume=True)


def test_the_readme_warns_that_resume_can_replace_best_pt_and_refuse_its_profiles() -> None:
    """Resumed epochs that do better rewrite best.pt (the loop keeps the lowest validation
    loss), and a checkpoint's version is the hash of its weights
    (test_the_version_is_a_hash_of_the_weights): profiles enrolled before are refused."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    training = readme[readme.index("## Train your own model") :]
    training = training[: training.index("\n## ")]
    assert "--resume --epochs 30 # continue (may replace best.pt)" in training
    warning = training[training.index("`--resume` can replace `best.pt`") :][:400]
    assert "new encoder\n  version" in warning and "refused (exit code 6" in warning


def test_freezing_a_module_keeps_its_weights(dataset, tmp_path) -> None:
    run = train(dataset, tmp_path / "run", tiny_config(epochs=1, freeze=("stem",)))
    trained = TrainedEncoder(run.best_checkpoint).network.state_dict()
    torch.manual_seed(0)
    from voxprint.encoders.resnet_net import ResNetConfig, ResNetDVector

    initial = ResNetDVector(ResNetConfig(depth=18, channels=(4, 4, 8, 8), embedding_dim=16))
    assert torch.equal(trained["stem.0.weight"], initial.state_dict()["stem.0.weight"])
    assert not torch.equal(trained["embedding.weight"], initial.state_dict()["embedding.weight"])
    with pytest.raises(InvalidParameterError, match="no module named nothing"):
        train(dataset, tmp_path / "bad", tiny_config(freeze=("nothing",)))


# -- checkpoints as encoders: registry, operating point, profiles ---------------------


def test_load_encoder_explains_missing_and_foreign_checkpoints(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="checkpoint not found"):
        load_encoder(str(tmp_path / "missing.pt"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ModelError, match="not a voxprint training checkpoint"):
        load_encoder(str(foreign))
    with pytest.raises(UnknownEncoderError, match="ge2e, or give the path"):
        load_encoder("resnet")
    with pytest.raises(InvalidParameterError, match="holds its own weights"):
        load_encoder(str(foreign), weights=foreign)


def test_a_file_that_is_not_a_torch_save_is_refused_in_one_line_without_unsafe_advice(
    tmp_path,
) -> None:
    garbage = tmp_path / "notes.pt"
    garbage.write_text("not a checkpoint\n")
    with pytest.raises(ModelError) as refused:
        load_encoder(str(garbage))
    message = refused.value.message
    assert message.startswith(f"could not read weights file {garbage}: not tensors saved")
    assert "\n" not in message and "weights_only" not in message


def test_a_checkpoint_without_operating_point_must_be_calibrated(trained_run, tmp_path) -> None:
    data = torch.load(trained_run.best_checkpoint, weights_only=True)
    data["operating_point"] = None
    bare = tmp_path / "bare.pt"
    torch.save(data, bare)
    with pytest.raises(ModelError, match="calibrate it first"):
        encoder_operating_point(load_encoder(str(bare)))


def _service(db: Path, checkpoint: Path) -> VoxprintService:
    encoder = load_encoder(str(checkpoint))
    pipeline = EmbeddingPipeline(
        encoder, config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    store = SQLiteStore(db)
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=Thresholds.load(store, encoder),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=2.0),
    )


def test_profiles_record_the_checkpoint_and_refuse_another(trained_run, dataset, tmp_path):
    other = train(dataset, tmp_path / "other", tiny_config(epochs=1, seed=7))
    db = tmp_path / "voxprint.db"
    service = _service(db, trained_run.best_checkpoint)
    profile = service.create_profile("alice")
    service.enroll(profile.id, (voice(140.0, 3.0, seed=3), RATE))
    stored = service.get_profile(profile.id)
    assert stored.encoder_name == "trained-resnet"
    assert stored.encoder_version == TrainedEncoder(trained_run.best_checkpoint).version
    result = service.verify(profile.id, (voice(140.0, 2.0, seed=4), RATE))
    assert result.decision.value in {"accept", "reject"}

    impostor_model = _service(db, other.best_checkpoint)
    with pytest.raises(EncoderMismatchError, match="enrolled with trained-resnet"):
        impostor_model.verify(profile.id, (voice(140.0, 2.0, seed=4), RATE))
