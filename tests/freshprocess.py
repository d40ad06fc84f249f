"""Running Python code in a fresh interpreter, to see what an import really loads."""

from __future__ import annotations

import os
import subprocess
import sys


def fresh_python(code: str) -> str:
    """What ``code`` prints when run by a new interpreter on this process's path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout
