"""voxprint is offline software: running a model leaves no telemetry ids in the home folder.

Each check runs a fresh interpreter (the runtimes write their ids when they are first
imported) with ``HOME`` and ``XDG_CACHE_HOME`` pointed at a temporary folder, then
lists every file that appeared there. voxprint's own ONNX cache is linked in from the
real one, so the CAM++ graph is not exported again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from voxprint.offline import ONNXRUNTIME_SWITCH

REPO = Path(__file__).resolve().parents[1]

EMBED_WITH_BOTH_RUNTIMES = """
import numpy as np
import voxprint
from voxprint.encoders import load_encoder
from voxprint.encoders.options import EncoderOptions
from voxprint.vad import SileroVad

audio = (np.random.default_rng(0).standard_normal(16000 * 4) * 0.1).astype(np.float32)
SileroVad().detect(audio)
for runtime in ("openvino", "onnx"):
    encoder = load_encoder("campplus", options=EncoderOptions(runtime=runtime))
    assert encoder.runtime == runtime, encoder.runtime
    assert encoder.embed(audio).shape == (192,)
print("embedded")
"""

IMPORT_THE_RUNTIMES_ALONE = "import onnxruntime, openvino; print('imported')"


def fake_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    cache = home / ".cache"
    cache.mkdir(parents=True)
    real_cache = platformdirs.user_cache_path("voxprint")
    real_cache.mkdir(parents=True, exist_ok=True)
    (cache / "voxprint").symlink_to(real_cache, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k != ONNXRUNTIME_SWITCH}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(cache),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
    )
    return home, env


def files_under(home: Path) -> list[str]:
    """Every file under ``home``, not following links (voxprint's own cache is a link)."""
    found = []
    for folder, _dirs, files in os.walk(home):
        found += [str(Path(folder, name).relative_to(home)) for name in files]
    return sorted(found)


def run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_embedding_with_openvino_and_onnxruntime_writes_no_telemetry_files(tmp_path):
    pytest.importorskip("openvino", reason="the openvino package is not installed")
    home, env = fake_home(tmp_path)
    assert "embedded" in run_python(EMBED_WITH_BOTH_RUNTIMES, env)
    assert files_under(home) == []


def test_without_voxprint_the_runtimes_do_write_ids_so_the_check_above_can_see_them(tmp_path):
    """The control: the same home folder, the runtimes imported on their own."""
    pytest.importorskip("openvino", reason="the openvino package is not installed")
    home, env = fake_home(tmp_path)
    run_python(IMPORT_THE_RUNTIMES_ALONE, env)
    written = files_under(home)
    if not written:
        pytest.skip("these onnxruntime and openvino versions write no telemetry files anyway")
    assert any("openvino_ga_cid" in f or "deviceid" in f for f in written), written


def test_an_explicit_onnxruntime_choice_is_left_alone(monkeypatch):
    from voxprint.offline import disable_telemetry

    monkeypatch.setenv(ONNXRUNTIME_SWITCH, "0")
    disable_telemetry()
    assert os.environ[ONNXRUNTIME_SWITCH] == "0"
    monkeypatch.delenv(ONNXRUNTIME_SWITCH)
    disable_telemetry()
    assert os.environ[ONNXRUNTIME_SWITCH] == "1"
