"""Running Python code in a fresh interpreter, to see what an import really loads."""

from __future__ import annotations

import os
import subprocess
import sys


def fresh_python(code: str, status: int = 0) -> str:
    """What ``code`` prints when run by a new interpreter on this process's path; the
    interpreter must end with exit ``status``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == status, result.stderr
    return result.stdout
