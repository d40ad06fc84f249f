"""Exit codes of the ``voxprint`` command (documented in the README)."""

from __future__ import annotations

from enum import IntEnum

from voxprint import errors


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1  # verify: the claimed speaker was rejected
    USAGE = 2  # bad command line (Typer/Click's own code)
    BAD_AUDIO = 3  # unreadable, unsupported, empty, too large or too long audio; wrong phrase
    NOT_ENOUGH_SPEECH = 4  # no speech, or less than the minimum
    PROFILE = 5  # unknown, ambiguous, not yet enrolled or conflicting profile
    MODEL = 6  # encoder unknown, weights missing, or profile made by another encoder
    DATA = 7  # store or dataset problem (e.g. no database at --db), bad parameter
    CANCELLED = 8  # a confirmation was answered "no": nothing was changed
    INTERNAL = 70  # a bug: please report it
    OUTPUT_CLOSED = 141  # the reader of the output went away (``| head``): quiet, as SIGPIPE


def exit_code_for(error: errors.VoxprintError) -> ExitCode:
    match error:
        case errors.AudioError() | errors.PhraseError():
            return ExitCode.BAD_AUDIO
        case errors.SpeechError():
            return ExitCode.NOT_ENOUGH_SPEECH
        case errors.ProfileError():
            return ExitCode.PROFILE
        case errors.ModelError():
            return ExitCode.MODEL
        case _:
            return ExitCode.DATA
