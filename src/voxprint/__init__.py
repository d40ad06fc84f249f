"""voxprint: self-hosted speaker recognition (enrol, verify, identify) that runs offline."""

from voxprint.offline import disable_telemetry

# Before anything imports onnxruntime or openvino (see voxprint.offline).
disable_telemetry()

from voxprint.errors import VoxprintError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["VoxprintError", "__version__"]
