"""The REST service: native ``/v1`` routes, Azure-compatible routes, streams, health."""

from voxprint.api.app import create_app
from voxprint.api.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
