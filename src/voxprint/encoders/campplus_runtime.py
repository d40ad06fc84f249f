"""Where the CAM++ network runs: OpenVINO, onnxruntime or torch eager, behind one protocol.

A runtime takes a zero-padded batch of mean-normalised fbank features with their
real frame counts and returns raw (un-normalised) embeddings. Runtimes are picked
by name from :data:`RUNTIMES`:

* ``"openvino-bf16"`` (default) and ``"openvino"``: the exported ONNX graph (below)
  compiled by OpenVINO, with bfloat16 inference for inputs of 3 s and more (on CPUs that
  do it natively: AVX-512 BF16 or AMX), or float32 throughout. bf16 halves CAM++'s time
  on such CPUs and moves speech embeddings by about 0.03 % in cosine (at most ~0.1 %).
  Without the ``openvino`` package they fall back to onnxruntime; without native bf16,
  ``"openvino-bf16"`` runs float32.
* ``"onnx"``: the network exported once to ONNX (cached in the user cache
  folder, see :mod:`voxprint.encoders.onnx_cache`) and run by onnxruntime. With
  ``quantize="int8"`` the cached graph is dynamically int8-quantised.
  When onnxruntime is missing or the export fails, it logs a warning and falls back
  to torch.
* ``"torch"``: torch eager.

All run :class:`~voxprint.encoders.campplus_masked.MaskedCampPlus`, so every row of a
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

DEFAULT_RUNTIME = "openvino-bf16"
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


#: Padded batches shorter than this (frames, 100 per second) run in float32 even in
#: ``"openvino-bf16"``: bf16 moves embeddings of sub-second clips by up to 0.4 % in cosine,
#: of clips of 3 s and more by under 0.06 %, and short clips are cheap anyway.
BF16_MIN_FRAMES = 300

#: OpenVINO pads the frames of a batch up to a multiple of this (the network masks the
#: padding). Every new input shape costs it kernel set-up; with 64-frame steps a run over
#: files of every length reuses a few dozen shapes (measured: +20 % throughput on 30
#: LibriSpeech files seen once, -3 % once every shape is warm).
SHAPE_STEP_FRAMES = 64


class OpenVinoRuntime:
    """OpenVINO compiled CAM++ graphs: float32, and optionally bfloat16 for batches of at
    least :data:`BF16_MIN_FRAMES` frames.

    Each model has ``streams`` execution streams (see :func:`openvino_config`): concurrent
    calls run side by side, and one call with a batch of several rows splits it across the
    streams. Thread-safe: each calling thread gets its own infer requests.
    """

    def __init__(self, float32: Any, bfloat16: Any | None = None, streams: int = 1) -> None:
        self._models = {"f32": float32, "bf16": bfloat16}
        self._streams = max(1, streams)
        self._local = threading.local()

    @property
    def name(self) -> str:
        return "openvino" if self._models["bf16"] is None else "openvino-bf16"

    def _requests(self, precision: str, count: int) -> list[Any]:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        mine = requests.setdefault(precision, [])
        while len(mine) < count:
            mine.append(self._models[precision].create_infer_request())
        return list(mine[:count])

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        frames = features.shape[1]
        long_enough = frames >= BF16_MIN_FRAMES
        precision = "bf16" if long_enough and self._models["bf16"] is not None else "f32"
        padding = -frames % SHAPE_STEP_FRAMES
        if padding:
            features = np.pad(features, ((0, 0), (0, padding), (0, 0)))
        parts = np.array_split(np.arange(features.shape[0]), min(self._streams, len(features)))
        requests = self._requests(precision, len(parts))
        for request, rows in zip(requests, parts, strict=True):
            inputs = {"features": features[rows], "lengths": lengths[rows]}
            request.start_async(inputs, share_inputs=False)
        outputs = []
        for request in requests:
            request.wait()
            # The request reuses its output buffer: copy before the next call.
            outputs.append(np.array(request.get_output_tensor(0).data, dtype=np.float32))
        return np.concatenate(outputs, axis=0)


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
            "graph": 2,  # 2: segment pooling without ceil-mode AvgPool
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


def exported_onnx_path(spec: RuntimeSpec) -> Path:
    """The cached ONNX graph for ``spec``, exported first if missing (checked against
    torch with onnxruntime). Raises :class:`ModelError` when the export fails."""
    path = onnx_model_path(spec)
    with _export_lock:
        if not path.is_file():
            logger.info("exporting CAM++ to ONNX at %s (once per weights file)", path)
            try:
                _export_to(spec, path)
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(f"could not export CAM++ to ONNX: {exc}") from exc
    return path


def load_onnx_session(spec: RuntimeSpec) -> tuple[Any, Path]:
    """An onnxruntime session for ``spec``, exporting the graph first if it is not cached
    (or the cached file cannot be loaded). Returns the session and the file's path.

    Raises ``ImportError`` when onnxruntime is missing and :class:`ModelError` when the
    export fails or does not match torch.
    """
    import onnxruntime  # noqa: F401  (fail early, before exporting)

    path = exported_onnx_path(spec)
    try:
        session = _open_session(path, spec.num_threads)
    except Exception as exc:  # onnxruntime raises its own, unexported types
        logger.warning("cached ONNX graph %s is unreadable (%s); exporting again", path, exc)
        path.unlink(missing_ok=True)
        path = exported_onnx_path(spec)
        session = _open_session(path, spec.num_threads)
    logger.debug("loaded CAM++ ONNX graph %s", path)
    return session, path


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


def native_bf16(core: Any) -> bool:
    """Whether OpenVINO's CPU plugin runs bfloat16 natively on this CPU."""
    try:
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # openvino raises its own, unexported types
        return False
    return "BF16" in capabilities


def openvino_config(num_threads: int | None, precision: str) -> dict[str, Any]:
    """OpenVINO CPU settings: ``num_threads`` threads in all (``None``:
    :func:`default_onnx_threads`), as that many execution streams of one thread each (one
    thread per call measured fastest for clips of a few seconds; concurrent calls, and
    the rows of one batch, run on the streams side by side), at ``precision`` (``"f32"``
    or ``"bf16"``)."""
    streams = num_threads or default_onnx_threads()
    return {
        "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": streams,
        "INFERENCE_PRECISION_HINT": precision,
    }


def _compile_openvino(path: Path, num_threads: int | None, bf16: bool) -> OpenVinoRuntime:
    import openvino

    core = openvino.Core()
    if bf16 and not native_bf16(core):
        logger.warning("this CPU has no native bfloat16; CAM++ runs OpenVINO in float32")
        bf16 = False

    model = core.read_model(str(path))
    float32 = openvino_config(num_threads, "f32")

    def compiled(precision: str) -> Any:
        return core.compile_model(model, "CPU", {**float32, "INFERENCE_PRECISION_HINT": precision})

    bfloat16 = compiled("bf16") if bf16 else None
    return OpenVinoRuntime(compiled("f32"), bfloat16, int(float32["NUM_STREAMS"]))


def build_openvino_runtime(spec: RuntimeSpec, bf16: bool = False) -> CampPlusRuntime:
    """CAM++ compiled by OpenVINO (float32, or bfloat16 for inputs of 3 s and more);
    onnxruntime (with a warning) when openvino is missing or cannot compile the graph.
    int8 is an onnxruntime graph, so a spec asking for it gets onnxruntime too."""
    if spec.quantize != "none":
        logger.warning("quantize=%s runs on onnxruntime, not OpenVINO", spec.quantize)
        return build_onnx_runtime(spec)
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        logger.warning("openvino is not available (%s); CAM++ runs on onnxruntime", exc)
        return build_onnx_runtime(spec)
    try:
        path = exported_onnx_path(spec)
        try:
            return _compile_openvino(path, spec.num_threads, bf16)
        except Exception as exc:  # a damaged cache file: export once more
            logger.warning("OpenVINO could not read %s (%s); exporting again", path, exc)
            path.unlink(missing_ok=True)
            return _compile_openvino(exported_onnx_path(spec), spec.num_threads, bf16)
    except Exception as exc:  # openvino raises its own, unexported types
        logger.warning("OpenVINO could not compile CAM++ (%s); CAM++ runs on onnxruntime", exc)
        return build_onnx_runtime(spec)


def build_openvino_bf16_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    return build_openvino_runtime(spec, bf16=True)


RUNTIMES: dict[str, Callable[[RuntimeSpec], CampPlusRuntime]] = {
    "onnx": build_onnx_runtime,
    "openvino": build_openvino_runtime,
    "openvino-bf16": build_openvino_bf16_runtime,
    "torch": build_torch_runtime,
}


@dataclass(frozen=True)
class PlannedRuntime:
    """What :func:`build_runtime` would run on this machine, found without exporting or
    compiling anything: ``runtime`` as :attr:`CampPlusRuntime.name` names it, and why it
    differs from the one asked for (``None`` when it does not)."""

    requested: str
    runtime: str
    reason: str | None = None


def planned_runtime(name: str | None = None, quantize: str | None = None) -> PlannedRuntime:
    """The runtime CAM++ gets for ``name`` (default :data:`DEFAULT_RUNTIME`) and
    ``quantize``: checks which packages are installed and whether the CPU does bfloat16,
    the same choices the builders make, but loads no network.

    An export or compile failure at load time still falls back further (with a warning).
    """
    import importlib.util

    requested = name or DEFAULT_RUNTIME
    if requested not in RUNTIMES:
        raise InvalidParameterError(
            f"unknown CAM++ runtime {requested!r}; choose one of: {', '.join(sorted(RUNTIMES))}"
        )
    quantize = quantize or "none"

    def onnx(reason: str | None) -> PlannedRuntime:
        if importlib.util.find_spec("onnxruntime") is None:
            return PlannedRuntime(requested, "torch", "onnxruntime is not installed")
        name = "onnx" if quantize == "none" else f"onnx-{quantize}"
        return PlannedRuntime(requested, name, reason)

    if requested == "torch":
        return PlannedRuntime(requested, "torch")
    if requested == "onnx":
        return onnx(None)
    if quantize != "none":
        return onnx(f"quantize={quantize} runs on onnxruntime")
    if importlib.util.find_spec("openvino") is None:
        return onnx("openvino is not installed")
    if requested == "openvino":
        return PlannedRuntime(requested, "openvino")
    import openvino

    if not native_bf16(openvino.Core()):
        return PlannedRuntime(requested, "openvino", "this CPU has no native bfloat16")
    return PlannedRuntime(requested, "openvino-bf16")


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
