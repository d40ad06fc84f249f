"""The REST service: native ``/v1`` routes, Azure-compatible routes, streams, health.

Its settings are :class:`voxprint.settings.Settings`, shared with the command line.
"""

from voxprint.api.app import create_app

__all__ = ["create_app"]
