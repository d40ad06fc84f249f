"""The ``voxprint`` command line."""
