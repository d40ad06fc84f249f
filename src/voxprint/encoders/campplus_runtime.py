"""Where the CAM++ network runs: torch eager or onnxruntime, behind one small protocol.

A runtime takes a zero-padded batch of mean-normalised fbank features with their
real frame counts and returns raw (un-normalised) embeddings. Runtimes are picked
by name from :data:`RUNTIMES`:

* ``"onnx"`` (default): the network exported once to ONNX (cached in the user cache
  folder, see :mod:`voxprint.encoders.onnx_cache`) and run by onnxruntime. With
  ``quantize="int8"`` the cached graph is dynamically int8-quantised.
  When onnxruntime is missing or the export fails, it logs a warning and falls back
  to torch.
* ``"torch"``: torch eager.

Both run :class:`~voxprint.encoders.campplus_masked.MaskedCampPlus`, so every row of a
padded batch gets the embedding it would get alone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from voxprint.encoders.campplus_masked import MaskedCampPlus
from voxprint.encoders.campplus_net import CampPlusNet
from voxprint.encoders.onnx_cache import (
    atomic_write,
    check_export,
    default_onnx_cache_dir,
    export_onnx,
    onnx_cache_key,
    quantize_int8,
)
from voxprint.encoders.weights import torch_threads
from voxprint.errors import InvalidParameterError, ModelError

logger = logging.getLogger(__name__)

DEFAULT_RUNTIME = "onnx"
QUANTIZATIONS = ("none", "int8")
_INPUT_NAMES = ["features", "lengths"]
_OUTPUT_NAMES = ["embedding"]
_DYNAMIC_AXES = {
    "features": {0: "batch", 1: "frames"},
    "lengths": {0: "batch"},
    "embedding": {0: "batch"},
}


class CampPlusRuntime(Protocol):
    """Runs CAM++ on a padded batch."""

    @property
    def name(self) -> str:
        """What actually runs: ``"torch"``, ``"onnx"`` or ``"onnx-int8"``."""
        ...

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """features ``(batch, frames, 80) float32`` (zero past each length), lengths
        ``(batch,) int64`` ≥ 1 → raw embeddings ``(batch, 192) float32``."""
        ...


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything a runtime needs to be built.

    ``weights_digest`` names the weights in the ONNX cache key; ``num_threads`` is the
    intra-op thread count (``None``: the runtime's default); ``cache_dir`` ``None`` is
    :func:`~voxprint.encoders.onnx_cache.default_onnx_cache_dir`.
    """

    network: CampPlusNet
    weights_digest: str
    num_threads: int | None = None
    quantize: str = "none"
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZATIONS:
            raise InvalidParameterError(
                f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {self.quantize!r}"
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise InvalidParameterError(f"num_threads must be at least 1, got {self.num_threads}")


class TorchRuntime:
    """Torch eager on the CPU; ``num_threads`` is torch's intra-op thread count while running."""

    def __init__(self, network: CampPlusNet, num_threads: int | None = None) -> None:
        self._module = MaskedCampPlus(network).eval()
        self._num_threads = num_threads

    @property
    def name(self) -> str:
        return "torch"

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with torch_threads(self._num_threads), torch.inference_mode():
            output = self._module(torch.from_numpy(features), torch.from_numpy(lengths))
        return np.asarray(output.numpy(), dtype=np.float32)


class OnnxRuntime:
    """An onnxruntime CPU session over an exported CAM++ graph (thread-safe)."""

    def __init__(self, session: Any, name: str) -> None:
        self._session = session
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        outputs = self._session.run(None, {"features": features, "lengths": lengths})
        return np.asarray(outputs[0], dtype=np.float32)


def default_onnx_threads() -> int:
    """Intra-op threads when none are asked for: the usable CPUs, at most 4.

    (More threads than cores makes onnxruntime's spinning workers fight each other.)
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 4))


def session_options(num_threads: int | None) -> Any:
    """onnxruntime options: ``num_threads`` intra-op threads (``None``:
    :func:`default_onnx_threads`), one inter-op thread, no spinning, full graph
    optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or default_onnx_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers burn a core between calls; on a shared machine that costs more
    # than the microseconds it saves.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def onnx_model_key(spec: RuntimeSpec) -> str:
    """Cache key of the ONNX file for ``spec``: weights, network configuration, quantisation."""
    config = asdict(spec.network.config)
    return onnx_cache_key(
        {
            "model": "campplus-masked",
            "weights": spec.weights_digest,
            "config": config,
            "quantize": spec.quantize,
        }
    )


def onnx_model_path(spec: RuntimeSpec) -> Path:
    """Where the ONNX file for ``spec`` is cached."""
    directory = spec.cache_dir if spec.cache_dir is not None else default_onnx_cache_dir()
    suffix = "" if spec.quantize == "none" else f"-{spec.quantize}"
    return directory / f"campplus-{onnx_model_key(spec)}{suffix}.onnx"


_export_lock = threading.Lock()


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 230, 80, generator=generator)
    lengths = torch.tensor([230, 157], dtype=torch.int64)
    features[1, 157:] = 0.0
    return features, lengths


def _export_to(spec: RuntimeSpec, path: Path) -> None:
    module = MaskedCampPlus(spec.network, pointwise_matmul=spec.quantize == "int8")
    example = _example_inputs()

    def write(temp: Path) -> None:
        export_onnx(
            module,
            example,
            temp,
            input_names=_INPUT_NAMES,
            output_names=_OUTPUT_NAMES,
            dynamic_axes=_DYNAMIC_AXES,
        )
        if spec.quantize == "int8":
            fp32 = temp.with_name(temp.name + ".fp32")
            os.replace(temp, fp32)
            try:
                quantize_int8(fp32, temp)
            finally:
                fp32.unlink(missing_ok=True)
        session = _open_session(temp, spec.num_threads)
        # An int8 graph is checked loosely: it only has to be the same model.
        check_export(
            session, module, example, _INPUT_NAMES, 0.99 if spec.quantize == "int8" else 0.999
        )

    atomic_write(path, write)


def _open_session(path: Path, num_threads: int | None) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        str(path), session_options(num_threads), providers=["CPUExecutionProvider"]
    )


def load_onnx_session(spec: RuntimeSpec) -> tuple[Any, Path]:
    """An onnxruntime session for ``spec``, exporting the graph first if it is not cached
    (or the cached file cannot be loaded). Returns the session and the file's path.

    Raises ``ImportError`` when onnxruntime is missing and :class:`ModelError` when the
    export fails or does not match torch.
    """
    import onnxruntime  # noqa: F401  (fail early, before exporting)

    path = onnx_model_path(spec)
    with _export_lock:
        if path.is_file():
            try:
                session = _open_session(path, spec.num_threads)
                logger.debug("loaded cached CAM++ ONNX graph %s", path)
                return session, path
            except Exception as exc:  # onnxruntime raises its own, unexported types
                logger.warning(
                    "cached ONNX graph %s is unreadable (%s); exporting again", path, exc
                )
        logger.info("exporting CAM++ to ONNX at %s (once per weights file)", path)
        try:
            _export_to(spec, path)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"could not export CAM++ to ONNX: {exc}") from exc
        return _open_session(path, spec.num_threads), path


def build_torch_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    if spec.quantize != "none":
        logger.warning("quantize=%s needs the onnx runtime; torch runs in float32", spec.quantize)
    return TorchRuntime(spec.network, spec.num_threads)


def build_onnx_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    """The onnx runtime, or torch eager (with a warning) when onnxruntime or the export fails."""
    try:
        session, _ = load_onnx_session(spec)
    except ImportError as exc:
        logger.warning("onnxruntime is not available (%s); CAM++ runs in torch eager", exc)
        return TorchRuntime(spec.network, spec.num_threads)
    except ModelError as exc:
        logger.warning("%s; CAM++ runs in torch eager", exc.message)
        return TorchRuntime(spec.network, spec.num_threads)
    return OnnxRuntime(session, "onnx" if spec.quantize == "none" else f"onnx-{spec.quantize}")


RUNTIMES: dict[str, Callable[[RuntimeSpec], CampPlusRuntime]] = {
    "onnx": build_onnx_runtime,
    "torch": build_torch_runtime,
}


def build_runtime(name: str, spec: RuntimeSpec) -> CampPlusRuntime:
    """The runtime called ``name`` (a key of :data:`RUNTIMES`) for ``spec``.

    Raises :class:`InvalidParameterError` for an unknown name.
    """
    factory = RUNTIMES.get(name)
    if factory is None:
        raise InvalidParameterError(
            f"unknown CAM++ runtime {name!r}; choose one of: {', '.join(sorted(RUNTIMES))}"
        )
    return factory(spec)
