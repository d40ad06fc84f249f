"""voxprint is offline software: the runtimes it loads send no telemetry and leave no IDs.

Two of them would otherwise write an installation id into the home folder the moment
they are imported, and queue usage events for upload:

* onnxruntime (1.2x and later on Linux) writes ``~/.cache/Microsoft/DeveloperTools/
  .onnxruntime/deviceid`` unless ``ORT_DISABLE_TELEMETRY`` is set before it loads;
* OpenVINO's converter (imported by ``import openvino``) runs the ``openvino_telemetry``
  package, which writes ``~/intel/openvino_ga_cid`` and ``~/intel/stats``. OpenVINO
  uses a no-op stub when that package cannot be imported, so voxprint makes it
  unimportable in this process.

:func:`disable_telemetry` runs when :mod:`voxprint` is imported, before either runtime
is; it is idempotent. A user who wants onnxruntime's telemetry back can set
``ORT_DISABLE_TELEMETRY=0`` (an explicit value is left alone).
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

#: The environment switch onnxruntime reads when it loads (``1``: no telemetry, no id file).
ONNXRUNTIME_SWITCH = "ORT_DISABLE_TELEMETRY"
#: The package OpenVINO sends telemetry with; OpenVINO falls back to a stub without it.
OPENVINO_TELEMETRY_PACKAGE = "openvino_telemetry"


def disable_telemetry() -> None:
    """Switch off onnxruntime's and OpenVINO's telemetry for this process."""
    os.environ.setdefault(ONNXRUNTIME_SWITCH, "1")
    onnxruntime = sys.modules.get("onnxruntime")
    if onnxruntime is not None and os.environ[ONNXRUNTIME_SWITCH] != "0":
        # Imported before voxprint: too late for the id file, but no events are sent.
        disable = getattr(onnxruntime, "disable_telemetry_events", None)
        if disable is not None:
            disable()
    if OPENVINO_TELEMETRY_PACKAGE not in sys.modules:
        # A None entry makes `import openvino_telemetry` raise ImportError, which
        # OpenVINO answers with its own no-op telemetry stub.
        sys.modules[OPENVINO_TELEMETRY_PACKAGE] = None  # type: ignore[assignment]
    elif sys.modules[OPENVINO_TELEMETRY_PACKAGE] is not None:
        logger.debug("openvino_telemetry was imported before voxprint; it stays as it is")
