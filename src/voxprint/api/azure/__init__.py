"""Azure Speaker Recognition v2.0 compatible API (text-independent), see ``routes``."""
