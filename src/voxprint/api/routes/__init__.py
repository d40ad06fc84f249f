"""Route modules of the native API; each exposes ``router``."""
