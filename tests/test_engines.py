"""Batch work on Ray (``--engine ray``) gives the same embeddings as the plain path.

Ray runs as a local instance started by the test (two CPUs at most: this is a 2-core
machine, so the dataset is kept to a few files). The model is GE2E, the light encoder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.cli.app import app as cli
from voxprint.engines import LocalEngine, RayEngine, RayOptions, _Failure, engine_for
from voxprint.errors import InvalidParameterError, SpeechTooShortError, StoreError
from voxprint.evaluation.datasets import folder_eval_set
from voxprint.evaluation.runner import embed_items
from voxprint.store import open_store

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_instance():
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (optional extra 'ray')")
    import ray

    os.environ.pop("RAY_ADDRESS", None)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def speakers(data_root: Path, tmp_path: Path) -> Path:
    """Two speakers, three LibriSpeech files each."""
    root = tmp_path / "speakers"
    folders = sorted(p for p in (data_root / "librispeech" / "test-other").iterdir())[:2]
    for folder in folders:
        (root / folder.name).mkdir(parents=True)
        for path in sorted(folder.glob("*.flac"))[:3]:
            shutil.copy(path, root / folder.name / path.name)
    return root


def clips_by_label(db: str) -> dict[tuple[str, str], np.ndarray]:
    store = open_store(db)
    try:
        out = {}
        for profile in store.list_profiles("default"):
            for clip in store.list_clips("default", profile.id):
                out[(profile.name, clip.label or "")] = clip.embedding
        return out
    finally:
        store.close()


def test_enroll_dir_on_ray_stores_the_same_embeddings_as_the_plain_path(
    ray_instance, speakers, tmp_path
):
    runner = CliRunner()
    plain, on_ray = str(tmp_path / "plain.db"), str(tmp_path / "ray.db")
    common = [str(speakers), "--model", "ge2e", "--enroll-seconds", "5", "--json"]
    first = runner.invoke(cli, ["enroll-dir", *common, "--db", plain])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        cli, ["enroll-dir", *common, "--db", on_ray, "--engine", "ray", "--ray-workers", "1"]
    )
    assert second.exit_code == 0, second.output
    a, b = clips_by_label(plain), clips_by_label(on_ray)
    assert sorted(a) == sorted(b) and len(a) == 6
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6)


def test_evaluation_embeddings_on_two_ray_workers_equal_the_local_ones(ray_instance, speakers):
    options = ServiceOptions(model="ge2e")
    pipeline = build_pipeline(options)
    items = folder_eval_set(speakers).items
    local = embed_items(pipeline, items, engine=LocalEngine(pipeline))
    remote = embed_items(
        pipeline, items, engine=RayEngine(options, RayOptions(workers=2, batch_size=2))
    )
    assert local.keys == remote.keys
    np.testing.assert_allclose(local.embeddings, remote.embeddings, rtol=0, atol=1e-6)
    assert remote.audio_seconds == pytest.approx(local.audio_seconds)


def test_a_worker_error_comes_back_as_the_same_kind_of_error():
    back = _Failure("SpeechTooShortError", "only 0.2 s of speech").error()
    assert isinstance(back, SpeechTooShortError.__mro__[1])  # its parent: needs no numbers
    assert back.message == "only 0.2 s of speech"
    assert isinstance(_Failure("StoreError", "gone").error(), StoreError)


def test_an_unknown_engine_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match="local, ray"):
        engine_for("spark", lambda: None, None)  # type: ignore[arg-type,return-value]
