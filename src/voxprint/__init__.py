"""voxprint: self-hosted speaker recognition (enrol, verify, identify) that runs offline."""

from voxprint.errors import VoxprintError

__version__ = "0.1.0"

__all__ = ["VoxprintError", "__version__"]
