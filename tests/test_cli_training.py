"""``voxprint train`` and ``voxprint plot``, and a trained run used as ``--model RUN/best.pt``.

Trains a thin ResNet for one short epoch on generated "speakers"; the VAD is the
energy fake, the encoder is the real checkpoint loaded through ``load_encoder``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxprint import bootstrap
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.encoders import load_encoder
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from fakes import RATE, EnergyVad, voice

runner = CliRunner()

TINY_CONFIG = """
depth = 18
channels = [4, 4, 8, 8]
embedding_dim = 16
crop_seconds = [1.0, 1.0]
batch_size = 16
crops_per_epoch = 32
learning_rate = 0.01
validation_fraction = 0.34
"""


@pytest.fixture(autouse=True)
def energy_vad(monkeypatch):
    def build_pipeline(options):
        return EmbeddingPipeline(
            load_encoder(options.model),
            config=PipelineConfig(min_speech_seconds=options.min_speech_seconds),
            vad=EnergyVad(),
        )

    monkeypatch.setattr(bootstrap, "build_pipeline", build_pipeline)


@pytest.fixture(scope="module")
def speakers(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speakers")
    for index, f0 in enumerate((100.0, 150.0, 220.0, 300.0)):
        (root / f"spk{index}").mkdir()
        for k in range(3):
            sf.write(root / f"spk{index}" / f"{k}.wav", voice(f0, 1.5, seed=k), RATE)
    return root


@pytest.fixture(scope="module")
def run_dir(speakers, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-run")
    config = folder / "tiny.toml"
    config.write_text(TINY_CONFIG)
    out = folder / "run"
    result = runner.invoke(
        app,
        [
            "train",
            str(speakers),
            "--out",
            str(out),
            "--config",
            str(config),
            "--epochs",
            "1",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["best_epoch"] == 1 and summary["device"] == "cpu"
    assert summary["speakers"] == 4
    return out


def test_train_writes_config_checkpoints_and_curves(run_dir) -> None:
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["epochs"] == 1 and saved["num_threads"] == 1 and saved["channels"] == [4, 4, 8, 8]
    assert (run_dir / "checkpoints" / "epoch-001.pt").is_file()
    assert (run_dir / "curves.png").is_file()


def test_train_refuses_a_bad_setting_with_one_line(speakers, tmp_path) -> None:
    result = runner.invoke(
        app, ["train", str(speakers), "--out", str(tmp_path / "run"), "--loss", "triplet"]
    )
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == [
        "error: --loss must be one of softmax, aam, got 'triplet'"
    ]


def test_a_refused_training_flag_is_named_as_the_flag_not_its_config_key(
    speakers, tmp_path
) -> None:
    out = tmp_path / "run"
    refused = runner.invoke(app, ["train", str(speakers), "--out", str(out), "--lr", "-1"])
    assert refused.exit_code == ExitCode.DATA
    assert refused.output.strip().splitlines() == ["error: --lr must be positive, got -1.0"]
    threads = runner.invoke(app, ["train", str(speakers), "--out", str(out), "--threads", "0"])
    assert threads.output.strip().splitlines() == ["error: --threads must be at least 1"]
    fraction = runner.invoke(
        app, ["train", str(speakers), "--out", str(out), "--validation-fraction", "1"]
    )
    assert fraction.output.strip().splitlines() == [
        "error: --validation-fraction must be strictly between 0 and 1"
    ]
    assert not out.exists()


def test_a_bad_setting_from_a_config_file_is_named_as_its_key(speakers, tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("learning_rate = -1.0\n")
    result = runner.invoke(
        app, ["train", str(speakers), "--out", str(tmp_path / "run"), "--config", str(config)]
    )
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == ["error: learning_rate must be positive, got -1.0"]


def test_training_into_a_used_run_folder_names_the_resume_flag(speakers, run_dir) -> None:
    result = runner.invoke(app, ["train", str(speakers), "--out", str(run_dir), "--epochs", "1"])
    assert result.exit_code == ExitCode.DATA
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {run_dir} already holds a training run")
    assert "(voxprint train --resume)" in line


def test_resuming_with_another_flag_value_names_the_flag(speakers, run_dir) -> None:
    config = run_dir.parent / "tiny.toml"  # the run's own settings, but for --lr
    args = ["train", str(speakers), "--out", str(run_dir), "--config", str(config), "--resume"]
    result = runner.invoke(app, [*args, "--lr", "0.123"])
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == [
        "error: cannot resume: the run was started with different --lr"
    ]


def test_a_noise_folder_without_augmentation_is_refused_not_ignored(speakers, tmp_path) -> None:
    result = runner.invoke(
        app,
        ["train", str(speakers), "--out", str(tmp_path / "run"), "--noise-dir", "nowhere"],
    )
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == [
        "error: --noise-dir is mixed in only with augmentation: turn augment on (--augment) "
        "or leave --noise-dir out"
    ]
    assert not (tmp_path / "run").exists()


def test_a_trained_checkpoint_enrols_and_verifies(run_dir, speakers, tmp_path) -> None:
    model = str(run_dir / "best.pt")
    db = str(tmp_path / "voxprint.db")
    files = [str(p) for p in sorted((speakers / "spk1").glob("*.wav"))]
    enrolled = runner.invoke(
        app, ["enroll", "bob", *files, "--enroll-seconds", "2", "--db", db, "--model", model]
    )
    assert enrolled.exit_code == 0, enrolled.output
    shown = runner.invoke(app, ["profiles", "show", "bob", "--db", db, "--model", model, "--json"])
    assert json.loads(shown.stdout)["encoder_name"] == "trained-resnet"
    verified = runner.invoke(app, ["verify", "bob", files[0], "--db", db, "--model", model])
    assert verified.exit_code in (ExitCode.OK, ExitCode.REJECTED), verified.output
    wrong = runner.invoke(app, ["verify", "bob", files[0], "--db", db, "--model", "campplus"])
    assert wrong.exit_code == ExitCode.MODEL
    assert "enrolled with trained-resnet" in wrong.output


def test_an_unknown_map_method_is_refused_before_anything_is_embedded(
    run_dir, speakers, tmp_path, monkeypatch
) -> None:
    from voxprint.evaluation import runner as evaluation_runner

    def never(*_args, **_kwargs):
        raise AssertionError("embedded before the method was checked")

    monkeypatch.setattr(evaluation_runner, "embed_items", never)
    out = tmp_path / "map.png"
    model = str(run_dir / "best.pt")
    result = runner.invoke(
        app,
        [
            "plot",
            "embeddings",
            str(speakers),
            "--model",
            model,
            "--method",
            "umap",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == ExitCode.DATA, result.output
    assert result.output.strip().splitlines() == [
        "error: unknown map method 'umap'; choose one of pca, tsne"
    ]
    assert not out.exists()


def test_plot_embeddings_draws_a_map_and_returns_its_points(run_dir, speakers, tmp_path) -> None:
    out = tmp_path / "map.png"
    result = runner.invoke(
        app,
        [
            "plot",
            "embeddings",
            str(speakers),
            "--model",
            str(run_dir / "best.pt"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["points"]) == 12
    assert {p["speaker"] for p in data["points"]} == {"spk0", "spk1", "spk2", "spk3"}
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_scores_marks_the_thresholds(run_dir, speakers, tmp_path) -> None:
    trials = speakers / "trials.txt"
    trials.write_text("1 spk0/0.wav spk0/1.wav\n0 spk0/0.wav spk1/0.wav\n0 spk1/1.wav spk2/0.wav\n")
    out = tmp_path / "scores.png"
    result = runner.invoke(
        app,
        [
            "plot",
            "scores",
            str(trials),
            "--model",
            str(run_dir / "best.pt"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["target_trials"], data["nontarget_trials"]) == (1, 2)
    assert set(data["thresholds"]) == {"verification threshold", "EER threshold"}
    assert out.is_file()
    missing = runner.invoke(app, ["plot", "scores", str(tmp_path / "nope.txt")])
    assert missing.exit_code == ExitCode.DATA
    assert "does not exist" in missing.output


def test_plot_scores_with_a_db_marks_the_calibration_stored_there(
    run_dir, speakers, tmp_path
) -> None:
    files = sorted(p.relative_to(speakers) for p in speakers.glob("*/*.wav"))
    lines = [
        f"{int(a.parent == b.parent)} {a} {b}" for i, a in enumerate(files) for b in files[i + 1 :]
    ]
    trials = speakers / "all-pairs.txt"
    trials.write_text("\n".join(lines) + "\n")
    model = str(run_dir / "best.pt")
    db = tmp_path / "calibrated.db"

    def plot(*extra: str) -> dict:
        result = runner.invoke(
            app,
            [
                *("plot", "scores", str(trials), "--model", model),
                *("--out", str(tmp_path / "s.png"), *extra, "--json"),
            ],
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    prior = plot()
    calibrated = runner.invoke(
        app, ["calibrate", str(trials), "--far", "0.05", "--db", str(db), "--model", model]
    )
    assert calibrated.exit_code == 0, calibrated.output
    stored = plot("--db", str(db))
    assert stored["operating_point"] != prior["operating_point"]
    assert "calibrat" in stored["operating_point"].lower()
    assert (
        stored["thresholds"]["verification threshold"]
        != prior["thresholds"]["verification threshold"]
    )
    missing = runner.invoke(
        app, ["plot", "scores", str(trials), "--model", model, "--db", str(tmp_path / "no.db")]
    )
    assert missing.exit_code == ExitCode.DATA
