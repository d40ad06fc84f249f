"""``voxprint phrases`` (the passphrases of a locale) and ``voxprint challenge`` (a spoken
challenge to answer with ``voxprint verify NAME FILE --challenge ID``)."""

from __future__ import annotations

from typing import Annotated

import typer

from voxprint.cli import render
from voxprint.cli.common import DbOption, JsonOption, ModelOption, emit, handles_errors


def register(app: typer.Typer) -> None:
    app.command("phrases")(phrases)
    app.command("challenge")(challenge)


@handles_errors
def phrases(
    locale: Annotated[str, typer.Option("--locale", help="Locale, e.g. en-us.")] = "en-us",
    json_output: JsonOption = False,
) -> None:
    """The passphrases a text-dependent profile can use.

    Enrol one with `voxprint enroll NAME a.wav b.wav c.wav --phrase PHRASE`.
    """
    from voxprint.passphrase.phrases import phrases_for

    offered = phrases_for(locale)
    emit(json_output, list(offered), lambda: "\n".join(offered))


@handles_errors
def challenge(
    words: Annotated[bool, typer.Option("--words", help="Common words instead of digits.")] = False,
    length: Annotated[
        int | None, typer.Option("--length", help="How many digits or words (4-6).")
    ] = None,
    ttl: Annotated[
        float | None, typer.Option("--ttl", help="Seconds it stays valid (120; at most 600).")
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """A spoken challenge: a random phrase to say once, soon (liveness against replay)."""
    from voxprint.cli.common import open_passphrases
    from voxprint.passphrase.challenges import ChallengeKind

    passphrases = open_passphrases(db, model, create=False)
    kind = ChallengeKind.WORDS if words else ChallengeKind.DIGITS
    made = passphrases.create_challenge(kind, words=length, ttl_seconds=ttl)
    emit(json_output, made, lambda: render.challenge_text(made))
