"""How the ``voxprint`` process ends: at once once the command is done, with nothing lost."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from voxprint.cli.process_exit import end_process, exit_status


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_exit_status_follows_pythons_rules_for_system_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert exit_status(None) == 0
    assert exit_status(5) == 5
    assert exit_status("refused: no such file") == 1
    assert capsys.readouterr().err == "refused: no such file\n"


def test_buffered_output_and_exit_handlers_survive_the_quick_end(tmp_path: Path) -> None:
    marker = tmp_path / "handler-ran"
    result = run_python(
        "import atexit, sys\n"
        "from pathlib import Path\n"
        "from voxprint.cli.process_exit import end_process\n"
        f"atexit.register(lambda: Path({str(marker)!r}).write_text('yes'))\n"
        "sys.stdout.write('the answer\\n' * 1000)\n"
        "sys.stderr.write('a warning')\n"
        "end_process(4)\n"
    )
    assert result.returncode == 4
    assert result.stdout == "the answer\n" * 1000
    assert result.stderr == "a warning"
    assert marker.read_text() == "yes"


def test_a_message_as_the_exit_code_is_shown_and_exits_with_one() -> None:
    result = run_python(
        "from voxprint.cli.process_exit import end_process\nend_process('cannot go on')\n"
    )
    assert (result.returncode, result.stderr) == (1, "cannot go on\n")


def test_a_live_thread_gets_an_ordinary_exit_so_nothing_is_cut_short() -> None:
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    worker.start()
    try:
        with pytest.raises(SystemExit) as stop:
            end_process(3)
        assert stop.value.code == 3
    finally:
        release.set()
        worker.join()


def test_the_console_command_ends_with_its_exit_code_and_message(tmp_path: Path) -> None:
    result = run_python(
        "import sys\n"
        "from voxprint.cli.app import main\n"
        f"sys.argv = ['voxprint', 'profiles', 'list', '--db', {str(tmp_path / 'none.db')!r}]\n"
        "main()\n"
    )
    assert result.returncode == 7
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
