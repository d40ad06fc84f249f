"""Where the CAM++ network runs: OpenVINO, onnxruntime or torch eager, behind one protocol.

A runtime takes a zero-padded batch of mean-normalised fbank features with their
real frame counts and returns raw (un-normalised) embeddings. Runtimes are picked
by name from :data:`RUNTIMES`:

* ``"auto"`` (default): the fastest engines for this CPU, measured once per CPU model,
  flags and library versions and remembered in the cache folder (see
  :mod:`voxprint.encoders.campplus_selection`); inputs under 3 s and inputs of 3 s and
  more may run on different engines.
* ``"openvino-bf16"``: OpenVINO in bfloat16 for inputs of 3 s and more (on CPUs that do
  it natively: AVX-512 BF16 or AMX), onnxruntime float32 below that. bf16 halves CAM++'s
  time on such CPUs and moves speech embeddings by about 0.03 % in cosine (at most
  ~0.1 %). Without native bf16 it runs ``"openvino"``.
* ``"openvino"``: the exported ONNX graph (below) compiled by OpenVINO, float32.
  Without the ``openvino`` package the OpenVINO runtimes fall back to onnxruntime.
* ``"onnx"``: the network exported once to ONNX (cached in the user cache
  folder, see :mod:`voxprint.encoders.onnx_cache`) and run by onnxruntime. With
  ``quantize="int8"`` the cached graph is dynamically int8-quantised.
  When onnxruntime is missing or the export fails, it logs a warning and falls back
  to torch.
* ``"torch"``: torch eager.

All run :class:`~voxprint.encoders.campplus_masked.MaskedCampPlus`, so every row of a
padded batch gets the embedding it would get alone.

Start-up is cached: the ONNX graph, onnxruntime's optimised graph (per CPU and
onnxruntime version) and OpenVINO's compiled model (its ``CACHE_DIR``) all live in the
cache folder, so a process after the first reads them instead of exporting, optimising
or compiling. torch is imported only to export the graph (once), for ``"torch"``, or
when :attr:`RuntimeSpec.network` is asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from voxprint.encoders.campplus_config import CampPlusConfig
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

if TYPE_CHECKING:
    import torch

    from voxprint.encoders.campplus_net import CampPlusNet

logger = logging.getLogger(__name__)

#: The runtime used when none is asked for: measured per CPU (see RUNTIMES).
DEFAULT_RUNTIME = "auto"
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
        """What actually runs, e.g. ``"torch"``, ``"onnx"``, ``"onnx-int8"``,
        ``"openvino"``, ``"openvino-bf16"`` or ``"onnx+openvino-bf16"``."""
        ...

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """features ``(batch, frames, 80) float32`` (zero past each length), lengths
        ``(batch,) int64`` ≥ 1 → raw embeddings ``(batch, 192) float32``."""
        ...


class LazyNetwork:
    """A :class:`CampPlusNet` loaded on first use (torch is imported then), with its
    configuration known before. Thread-safe; loads at most once."""

    def __init__(self, config: CampPlusConfig, load: Callable[[], CampPlusNet]) -> None:
        self.config = config
        self._load = load
        self._network: CampPlusNet | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._network is not None

    def get(self) -> CampPlusNet:
        with self._lock:
            if self._network is None:
                self._network = self._load()
            return self._network


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything a runtime needs to be built.

    ``network`` is the network, or a :class:`LazyNetwork` that loads it only when a
    runtime needs torch (an export or the torch runtime). ``weights_digest`` names the
    weights in the ONNX cache key; ``num_threads`` is the intra-op thread count
    (``None``: the runtime's default); ``cache_dir`` ``None`` is
    :func:`~voxprint.encoders.onnx_cache.default_onnx_cache_dir`.
    """

    network: CampPlusNet | LazyNetwork
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

    @property
    def config(self) -> CampPlusConfig:
        config: CampPlusConfig = self.network.config
        return config

    @property
    def folder(self) -> Path:
        """The cache folder of exported graphs and compiled models."""
        return self.cache_dir if self.cache_dir is not None else default_onnx_cache_dir()

    def load_network(self) -> CampPlusNet:
        """The torch network (loading it, and torch, if it was lazy)."""
        if isinstance(self.network, LazyNetwork):
            return self.network.get()
        return self.network


# --- engines ------------------------------------------------------------------------


class TorchRuntime:
    """Torch eager on the CPU; ``num_threads`` is torch's intra-op thread count while running."""

    def __init__(self, network: CampPlusNet, num_threads: int | None = None) -> None:
        from voxprint.encoders.campplus_masked import MaskedCampPlus

        self._module = MaskedCampPlus(network).eval()
        self._num_threads = num_threads

    @property
    def name(self) -> str:
        return "torch"

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        import torch

        with torch_threads(self._num_threads), torch.inference_mode():
            output = self._module(torch.from_numpy(features), torch.from_numpy(lengths))
        return np.asarray(output.numpy(), dtype=np.float32)


class OnnxRuntime:
    """An onnxruntime CPU session over an exported CAM++ graph (thread-safe).

    ``narrow``, when given, builds a one-thread session over the same graph: a call
    that starts while another is running uses it (built at the first such call), and a
    call alone uses ``session`` with all its threads. Two calls at once on a
    many-thread session fight over the cores: on the AVX2-only 2-core AMD EPYC, 5 s
    clips from two threads ran at 12.5 clips/s with two threads per call against 14.5
    with one (153 against 132 ms of CPU per clip; docs/benchmarks.md, "One thread per
    call when calls overlap"). The second session costs about 80 MB.
    """

    def __init__(self, session: Any, name: str, narrow: Callable[[], Any] | None = None) -> None:
        self._session = session
        self._name = name
        self._build_narrow = narrow
        self._narrow: Any = None
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._running = 0

    @property
    def name(self) -> str:
        return self._name

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with self._lock:
            overlapping = self._running > 0
            self._running += 1
        try:
            session = self._narrow_session() if overlapping else self._session
            outputs = session.run(None, {"features": features, "lengths": lengths})
        finally:
            with self._lock:
                self._running -= 1
        return np.asarray(outputs[0], dtype=np.float32)

    def _narrow_session(self) -> Any:
        """The one-thread session (built now if it is not yet), or the main one when
        there is none or it cannot be built."""
        with self._build_lock:
            if self._narrow is None and self._build_narrow is not None:
                try:
                    self._narrow = self._build_narrow()
                except Exception as exc:  # onnxruntime raises its own, unexported types
                    logger.warning("no one-thread CAM++ session (%s); calls share one", exc)
                    self._build_narrow = None
            return self._session if self._narrow is None else self._narrow


#: Padded batches shorter than this (frames, 100 per second) run in float32 even in
#: ``"openvino-bf16"``: bf16 moves embeddings of sub-second clips by up to 0.4 % in cosine,
#: of clips of 3 s and more by under 0.06 %, and short clips are cheap anyway.
BF16_MIN_FRAMES = 300

#: OpenVINO pads the frames of a batch up to a multiple of this (the network masks the
#: padding). Every new input shape costs it kernel set-up; with 64-frame steps a run over
#: files of every length reuses a few dozen shapes (measured: +20 % throughput on 30
#: LibriSpeech files seen once, -3 % once every shape is warm).
SHAPE_STEP_FRAMES = 64
#: Inputs longer than this many frames are padded in steps of
#: :data:`LONG_SHAPE_STEP_FRAMES` instead: each shape OpenVINO has seen keeps about 28 MB
#: of kernels and buffers, and long clips would otherwise add one shape per 0.64 s
#: (docs/benchmarks.md, "Memory when every request has another length").
LONG_SHAPE_FRAMES = 1024
LONG_SHAPE_STEP_FRAMES = 256


#: Once an input of more than this many frames (after padding) has run, OpenVINO's
#: intermediate buffers are released when a call on a shorter input next ends with no
#: call running: each stream keeps buffers sized for the longest input it ran (about
#: 100 MB per stream in float32 for a 15 s enrolment clip), and a server that enrolled a
#: few long clips would hold them for good. Long inputs that follow each other keep
#: them (re-allocating them costs a long call 10-15 %), and so do shorter inputs.
RELEASE_ABOVE_FRAMES = LONG_SHAPE_FRAMES


def padded_frames(frames: int) -> int:
    """The frame count OpenVINO runs an input of ``frames`` frames at."""
    step = SHAPE_STEP_FRAMES if frames <= LONG_SHAPE_FRAMES else LONG_SHAPE_STEP_FRAMES
    return -(-frames // step) * step


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def trim_c_heap() -> None:
    """Gives the free pages of the C heap back to the system (glibc's ``malloc_trim``;
    nothing elsewhere). Memory a library frees stays with the process otherwise: glibc
    returns only the top of each heap."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class OpenVinoRuntime:
    """One OpenVINO compiled CAM++ graph (float32 or bfloat16).

    The model has ``streams`` execution streams (see :func:`openvino_config`): concurrent
    calls run side by side, and one call with a batch of several rows splits it across
    the streams. Thread-safe: a call borrows idle infer requests from a shared pool and
    gives them back, so there are only as many requests as calls ever ran at once, not
    one set per thread that ever called.

    The streams keep intermediate buffers sized for the longest input they ran. After an
    input of more than :data:`RELEASE_ABOVE_FRAMES` frames they are released, and the C
    heap trimmed, when a shorter call next ends with no call running (a call that starts
    meanwhile waits for the release), so a few long clips do not keep their buffers for
    the life of the process.
    """

    def __init__(self, compiled: Any, name: str = "openvino", streams: int = 1) -> None:
        self._compiled = compiled
        self._name = name
        self._streams = max(1, streams)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._running = 0
        self._release_due = False

    @property
    def name(self) -> str:
        return self._name

    def _borrow(self, count: int) -> list[Any]:
        with self._lock:
            self._running += 1
            taken = [self._idle.pop() for _ in range(min(count, len(self._idle)))]
        try:
            while len(taken) < count:
                taken.append(self._compiled.create_infer_request())
        except BaseException:
            self._give_back(taken, 0)
            raise
        return taken

    def _give_back(self, requests: list[Any], frames: int) -> None:
        with self._lock:
            self._idle.extend(requests)
            self._running -= 1
            if frames > RELEASE_ABOVE_FRAMES:
                self._release_due = True  # kept while long inputs follow each other
            elif self._release_due and self._running == 0:
                # Under the lock: no call starts while the buffers are released.
                self._release_due = not self._release_memory()

    def _release_memory(self) -> bool:
        """Frees the streams' intermediate buffers; ``False`` when OpenVINO could not
        (a stream still finishing: the next short call that ends idle tries again)."""
        release = getattr(self._compiled, "release_memory", None)
        if release is None:  # OpenVINO before 2024.5: nothing to release with
            return True
        try:
            release()
        except Exception as exc:  # openvino raises its own, unexported types
            logger.debug("OpenVINO kept its buffers: %s", exc)
            return False
        trim_c_heap()
        return True

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        frames = padded_frames(features.shape[1])
        padding = frames - features.shape[1]
        if padding:
            features = np.pad(features, ((0, 0), (0, padding), (0, 0)))
        parts = np.array_split(np.arange(features.shape[0]), min(self._streams, len(features)))
        requests = self._borrow(len(parts))
        try:
            for request, rows in zip(requests, parts, strict=True):
                inputs = {"features": features[rows], "lengths": lengths[rows]}
                request.start_async(inputs, share_inputs=False)
            outputs = []
            for request in requests:
                request.wait()
                # The request reuses its output buffer: copy before giving it back.
                outputs.append(np.array(request.get_output_tensor(0).data, dtype=np.float32))
        finally:
            self._give_back(requests, frames)
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
    config = asdict(spec.config)
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
    suffix = "" if spec.quantize == "none" else f"-{spec.quantize}"
    return spec.folder / f"campplus-{onnx_model_key(spec)}{suffix}.onnx"


_export_lock = threading.Lock()


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 230, 80, generator=generator)
    lengths = torch.tensor([230, 157], dtype=torch.int64)
    features[1, 157:] = 0.0
    return features, lengths


def _export_to(spec: RuntimeSpec, path: Path) -> None:
    from voxprint.encoders.campplus_masked import MaskedCampPlus

    module = MaskedCampPlus(spec.load_network(), pointwise_matmul=spec.quantize == "int8")
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
        session = _plain_session(temp, spec.num_threads)
        # An int8 graph is checked loosely: it only has to be the same model.
        check_export(
            session, module, example, _INPUT_NAMES, 0.99 if spec.quantize == "int8" else 0.999
        )

    atomic_write(path, write)


def _plain_session(path: Path, num_threads: int | None) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        str(path), session_options(num_threads), providers=["CPUExecutionProvider"]
    )


def optimized_graph_path(path: Path) -> Path:
    """Where onnxruntime's optimised copy of the graph at ``path`` is kept (ORT format):
    per onnxruntime version, CPU (the optimised graph uses this CPU's kernel layouts) and
    version of the file at ``path``."""
    import onnxruntime as ort

    from voxprint.encoders.cpu import cpu_info

    source = path.stat()  # a rewritten graph gets a new optimised copy
    stamp = hashlib.sha256(f"{source.st_size}:{source.st_mtime_ns}".encode()).hexdigest()[:8]
    tag = f"ort{ort.__version__}-{cpu_info().key[:10]}-{stamp}"
    return path.with_name(f"{path.stem}.{tag}.ort")


def _open_session(path: Path, num_threads: int | None) -> Any:
    """A session over the graph at ``path``, from its cached optimised copy when there
    is one (graph optimisation off: it is done), else optimising it and keeping the
    result for the next process. Falls back to optimising in memory on any failure."""
    import onnxruntime as ort

    optimized = optimized_graph_path(path)
    if optimized.is_file():
        options = session_options(num_threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(optimized), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own, unexported types
            logger.info("cached optimised graph %s is unusable (%s); rebuilding", optimized, exc)
            optimized.unlink(missing_ok=True)
    session: list[Any] = []

    def write(temp: Path) -> None:
        options = session_options(num_threads)
        options.optimized_model_filepath = str(temp)
        # ORT's own format: read without parsing protobuf, about 0.1 s for CAM++.
        options.add_session_config_entry("session.save_model_format", "ORT")
        session.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))

    try:
        atomic_write(optimized, write)
    except OSError as exc:  # a read-only cache: optimise in memory every time
        logger.debug("could not keep the optimised graph at %s: %s", optimized, exc)
    return session[0] if session else _plain_session(path, num_threads)


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
    return TorchRuntime(spec.load_network(), spec.num_threads)


def build_onnx_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    """The onnx runtime, or torch eager (with a warning) when onnxruntime or the export fails."""
    try:
        session, path = load_onnx_session(spec)
    except ImportError as exc:
        logger.warning("onnxruntime is not available (%s); CAM++ runs in torch eager", exc)
        return TorchRuntime(spec.load_network(), spec.num_threads)
    except ModelError as exc:
        logger.warning("%s; CAM++ runs in torch eager", exc.message)
        return TorchRuntime(spec.load_network(), spec.num_threads)
    # Overlapping calls get one thread each, unless the user chose the thread count.
    narrow = None
    if spec.num_threads is None and default_onnx_threads() > 1:
        narrow = functools.partial(_open_session, path, 1)
    name = "onnx" if spec.quantize == "none" else f"onnx-{spec.quantize}"
    return OnnxRuntime(session, name, narrow)


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


def openvino_cache_dir(spec: RuntimeSpec) -> Path:
    """OpenVINO's model cache (``CACHE_DIR``): compiled graphs, reused by later processes."""
    return spec.folder / "openvino"


def _openvino_core(spec: RuntimeSpec) -> Any:
    import openvino

    core = openvino.Core()
    with contextlib.suppress(Exception):  # no cache: compile every time
        core.set_property({"CACHE_DIR": str(openvino_cache_dir(spec))})
    return core


def _compile_openvino(spec: RuntimeSpec, path: Path, precision: str) -> OpenVinoRuntime:
    core = _openvino_core(spec)
    config = openvino_config(spec.num_threads, precision)
    # Compiling from the path lets OpenVINO's model cache skip the compilation.
    compiled = core.compile_model(str(path), "CPU", config)
    name = "openvino" if precision == "f32" else "openvino-bf16"
    return OpenVinoRuntime(compiled, name, int(config["NUM_STREAMS"]))


def build_openvino_engine(spec: RuntimeSpec, precision: str = "f32") -> CampPlusRuntime:
    """One OpenVINO compiled graph at ``precision`` (``"f32"`` or ``"bf16"``, the caller
    checks that the CPU has bf16); onnxruntime (with a warning) when openvino is missing
    or cannot compile the graph. int8 is an onnxruntime graph, so a spec asking for it
    gets onnxruntime too."""
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
            return _compile_openvino(spec, path, precision)
        except Exception as exc:  # a damaged cache file: export once more
            logger.warning("OpenVINO could not read %s (%s); exporting again", path, exc)
            path.unlink(missing_ok=True)
            return _compile_openvino(spec, exported_onnx_path(spec), precision)
    except Exception as exc:  # openvino raises its own, unexported types
        logger.warning("OpenVINO could not compile CAM++ (%s); CAM++ runs on onnxruntime", exc)
        return build_onnx_runtime(spec)


def openvino_has_native_bf16() -> bool:
    """Whether OpenVINO is installed and runs bfloat16 natively on this CPU."""
    try:
        import openvino
    except ImportError:
        return False
    return native_bf16(openvino.Core())


#: The engines a plan is made of, by name.
ENGINES: dict[str, Callable[[RuntimeSpec], CampPlusRuntime]] = {
    "onnx": build_onnx_runtime,
    "openvino": build_openvino_engine,
    "openvino-bf16": lambda spec: build_openvino_engine(spec, "bf16"),
    "torch": build_torch_runtime,
}

#: A plan: ``(min_frames, engine)`` routes, the first from 0 frames.
Plan = tuple[tuple[int, str], ...]

#: The plan of ``"openvino-bf16"``: onnxruntime float32 for short inputs (faster there,
#: and one OpenVINO model instead of a float32 and a bfloat16 copy), bf16 from 3 s.
BF16_PLAN: Plan = ((0, "onnx"), (BF16_MIN_FRAMES, "openvino-bf16"))


def collapse(plan: Plan) -> Plan:
    """``plan`` without routes that repeat the engine of the route before."""
    routes: list[tuple[int, str]] = []
    for min_frames, engine in plan:
        if not routes or routes[-1][1] != engine:
            routes.append((min_frames, engine))
    return tuple(routes)


def plan_name(plan: Plan) -> str:
    """How a plan is shown: the runtime name it is known by, else its engines joined by
    ``+`` (shortest inputs first)."""
    plan = collapse(plan)
    for name, known in NAMED_PLANS.items():
        if known == plan:
            return name
    return "+".join(engine for _, engine in plan)


class PlanRuntime:
    """The engines of a plan, each for padded batches from its ``min_frames`` up, built
    on first use (so a process that only embeds long speech never loads the engine for
    short speech) and shared between routes that end up on the same engine after a
    fallback. Thread-safe."""

    def __init__(self, spec: RuntimeSpec, plan: Plan) -> None:
        if not plan or plan[0][0] != 0:
            raise InvalidParameterError("the first route of a plan must start at 0 frames")
        unknown = [engine for _, engine in plan if engine not in ENGINES]
        if unknown:
            raise InvalidParameterError(f"unknown CAM++ engine {unknown[0]!r}")
        self._spec = spec
        self._plan: Plan = tuple(sorted(plan))
        self._engines: dict[str, CampPlusRuntime] = {}
        self._lock = threading.Lock()

    @property
    def plan(self) -> Plan:
        return self._plan

    @property
    def built(self) -> tuple[str, ...]:
        """The plan's engines built so far, in plan order."""
        with self._lock:
            return tuple(engine for _, engine in self._plan if engine in self._engines)

    @property
    def name(self) -> str:
        """The plan's name; once its engines are built, the name of what actually runs
        (after any fallback)."""
        if all(engine in self._engines for _, engine in self._plan):
            return plan_name(tuple((f, self._engines[e].name) for f, e in self._plan))
        return plan_name(self._plan)

    def engine(self, engine_name: str) -> CampPlusRuntime:
        """The engine called ``engine_name``, built now if it is not yet."""
        with self._lock:
            engine = self._engines.get(engine_name)
            if engine is None:
                engine = ENGINES[engine_name](self._spec)
                same = [other for other in self._engines.values() if other.name == engine.name]
                engine = self._engines[engine_name] = same[0] if same else engine
            return engine

    def build_all(self) -> PlanRuntime:
        for _, engine_name in self._plan:
            self.engine(engine_name)
        return self

    def engine_name_for(self, frames: int) -> str:
        chosen = self._plan[0][1]
        for min_frames, engine_name in self._plan:
            if frames >= min_frames:
                chosen = engine_name
        return chosen

    def run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self.engine(self.engine_name_for(features.shape[1])).run(features, lengths)


def build_plan(spec: RuntimeSpec, plan: Plan, *, lazy: bool = False) -> PlanRuntime:
    """A :class:`PlanRuntime` for ``plan``: its engines built now, or on first use."""
    runtime = PlanRuntime(spec, plan)
    return runtime if lazy else runtime.build_all()


#: Named runtimes that are a fixed plan.
NAMED_PLANS: dict[str, Plan] = {
    "onnx": ((0, "onnx"),),
    "openvino": ((0, "openvino"),),
    "openvino-bf16": BF16_PLAN,
    "torch": ((0, "torch"),),
}


def build_openvino_runtime(spec: RuntimeSpec, bf16: bool = False) -> CampPlusRuntime:
    """``"openvino"`` (float32), or with ``bf16`` the ``"openvino-bf16"`` plan: it runs
    ``"openvino"`` (logging why) on a CPU without native bfloat16."""
    if not bf16:
        return build_plan(spec, NAMED_PLANS["openvino"])
    if spec.quantize == "none" and not _has_bf16_or_no_openvino():
        logger.warning("this CPU has no native bfloat16; CAM++ runs OpenVINO in float32")
        return build_plan(spec, NAMED_PLANS["openvino"])
    return build_plan(spec, BF16_PLAN)


def _has_bf16_or_no_openvino() -> bool:
    try:
        import openvino
    except ImportError:
        return True  # the plan falls back to onnxruntime, saying why
    return native_bf16(openvino.Core())


def build_openvino_bf16_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    return build_openvino_runtime(spec, bf16=True)


def build_auto_runtime(spec: RuntimeSpec) -> CampPlusRuntime:
    """The plan measured fastest on this CPU (see
    :func:`~voxprint.encoders.campplus_selection.choose_plan`)."""
    from voxprint.encoders.campplus_selection import choose_for_spec

    choice = choose_for_spec(spec)
    runtime: CampPlusRuntime = build_plan(spec, choice.plan)
    logger.debug("CAM++ runtime %s: %s", runtime.name, choice.reason)
    return runtime


RUNTIMES: dict[str, Callable[[RuntimeSpec], CampPlusRuntime]] = {
    "auto": build_auto_runtime,
    "onnx": build_onnx_runtime,
    "openvino": build_openvino_runtime,
    "openvino-bf16": build_openvino_bf16_runtime,
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
