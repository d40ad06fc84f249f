"""Export a torch module to ONNX once and keep the file in the user cache.

The file name is a hash of everything that changes the exported graph (the
caller's ``key_parts``: weights digest, network configuration, quantisation, plus
:data:`EXPORT_FORMAT_VERSION` here), so new weights or a new export format get a
new file and old files are never reused by mistake.

Files are written to a temporary name in the cache folder and renamed into place
(``os.replace`` is atomic on one file system), so processes that export at the same
time never see a half-written model: the last rename wins and both files are equal.
A cached file that onnxruntime cannot load is exported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import platformdirs

from voxprint.errors import ModelError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: Bump when the exported graph changes for the same weights (new inputs, new ops).
EXPORT_FORMAT_VERSION = 1
ONNX_OPSET = 17

#: Numeric check of a fresh export against torch, on one random input.
_EXPORT_MIN_COSINE = 0.999


def default_onnx_cache_dir() -> Path:
    """``platformdirs.user_cache_path("voxprint") / "onnx"`` (e.g. ``~/.cache/voxprint/onnx``)."""
    return platformdirs.user_cache_path("voxprint") / "onnx"


def onnx_cache_key(key_parts: Mapping[str, Any]) -> str:
    """16 hex characters of the SHA-256 of ``key_parts`` plus the export format version."""
    payload = json.dumps(
        {"export_format": EXPORT_FORMAT_VERSION, "opset": ONNX_OPSET, **key_parts},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(temp_path)`` on a temporary file next to ``target``, then rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp"
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, 0o644)  # mkstemp makes it private; a cache file need not be
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def export_onnx(
    module: torch.nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Export ``module`` (in eval mode) to ``path`` with the TorchScript-based exporter."""
    import torch

    module.eval()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python values
        torch.onnx.export(
            module,
            example_inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def quantize_int8(source: Path, target: Path) -> None:
    """Write a dynamically int8-quantised copy of ``source`` (weights int8, activations
    quantised per batch at run time) to ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gemm"],
    )


def check_export(
    session: Any,
    module: torch.nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    input_names: list[str],
    min_cosine: float = _EXPORT_MIN_COSINE,
) -> float:
    """Run ``example_inputs`` through both; raise :class:`ModelError` if any output row's
    cosine to torch's is below ``min_cosine``. Returns the lowest cosine."""
    import torch

    with torch.inference_mode():
        expected = module(*example_inputs).numpy()
    feeds = {name: tensor.numpy() for name, tensor in zip(input_names, example_inputs, strict=True)}
    actual = session.run(None, feeds)[0]
    cosines = np.sum(expected * actual, axis=1) / np.maximum(
        np.linalg.norm(expected, axis=1) * np.linalg.norm(actual, axis=1), 1e-12
    )
    lowest = float(np.min(cosines))
    if not lowest >= min_cosine:
        raise ModelError(f"the ONNX export does not match torch (cosine {lowest:.5f})")
    return lowest
