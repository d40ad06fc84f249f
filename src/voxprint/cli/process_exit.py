"""How the ``voxprint`` process ends once its command has finished.

Python's own shutdown takes apart every module and object the command loaded: with
numpy, pydantic, asyncio (pulled in by pydantic-settings), OpenSSL and typer that is
0.15-0.2 s of CPU on an AVX2-only AMD EPYC, after the output is already written (a
fifth of ``voxprint profiles list``; docs/benchmarks.md, "Start-up"). A command line
tool has nothing left to free, so :func:`end_process` runs what Python would run that
matters (the ``atexit`` handlers: logging's flush, temporary folders' clean-up), flushes
the standard streams and ends the process at once with the command's exit code.

It falls back to an ordinary exit whenever another Python thread is still alive, so
nothing running is cut short.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

#: Python's exit status when flushing standard output fails at exit.
FLUSH_FAILED = 120


def exit_status(code: object) -> int:
    """The process status for a :class:`SystemExit` code, as Python computes it: ``None``
    is 0, an integer is itself, anything else (a message) is 1 and is written to stderr."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def end_process(code: object) -> NoReturn:
    """End this process with ``code`` (a :class:`SystemExit` code) without Python's
    teardown of loaded modules, once ``atexit`` handlers have run and the standard
    streams are flushed; an ordinary ``SystemExit`` while other threads are alive."""
    if threading.active_count() > 1:
        raise SystemExit(code)
    status = exit_status(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as Python reports it at exit
            status = status or FLUSH_FAILED
    os._exit(status)
