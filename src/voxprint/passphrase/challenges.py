"""Spoken challenges: a random phrase, said once and soon, proves a live speaker.

A recording replays: a passphrase recorded once can be played back for ever. A
challenge phrase is drawn at random when asked for (4-6 digits, or 4-6 words from
:data:`~voxprint.passphrase.phrases.CHALLENGE_WORDS`), expires after a short time and is
good for one verification, so an old recording says the wrong words. The phrase check
allows one word error in a challenge (PocketSphinx misses one digit in ten on
telephone-band audio): a recording of other random digits still differs in most words.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from voxprint.errors import InvalidParameterError
from voxprint.passphrase.phrases import CHALLENGE_WORDS, DIGITS
from voxprint.passphrase.recognizer import Competitors
from voxprint.store.records import Challenge

#: Words a spoken challenge may be heard wrong by (see the module docstring).
CHALLENGE_WORD_ERRORS = 1


class ChallengeKind(StrEnum):
    DIGITS = "digits"
    WORDS = "words"


#: The words each kind of challenge is drawn from.
CHALLENGE_VOCABULARY: dict[ChallengeKind, tuple[str, ...]] = {
    ChallengeKind.DIGITS: DIGITS,
    ChallengeKind.WORDS: CHALLENGE_WORDS,
}


@dataclass(frozen=True)
class ChallengePolicy:
    """How challenges are made: lifetime and length (in words)."""

    ttl_seconds: float = 120.0
    max_ttl_seconds: float = 600.0
    min_words: int = 4
    max_words: int = 6
    word_errors: int = CHALLENGE_WORD_ERRORS

    def __post_init__(self) -> None:
        if not 0 < self.ttl_seconds <= self.max_ttl_seconds:
            raise InvalidParameterError("a challenge lives between 0 and max_ttl_seconds")
        if not 1 <= self.min_words <= self.max_words:
            raise InvalidParameterError("challenge lengths must satisfy 1 <= min <= max")
        if self.word_errors < 0:
            raise InvalidParameterError("word_errors cannot be negative")


def challenge_kind(value: str) -> ChallengeKind:
    try:
        return ChallengeKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in ChallengeKind)
        raise InvalidParameterError(f"unknown challenge kind {value!r}; use {kinds}") from None


def new_challenge(
    namespace: str,
    kind: ChallengeKind,
    policy: ChallengePolicy,
    now: datetime,
    *,
    words: int | None = None,
    ttl_seconds: float | None = None,
) -> Challenge:
    """A fresh challenge with a phrase drawn from a cryptographic random source."""
    length = (
        words
        if words is not None
        else (policy.min_words + secrets.randbelow(policy.max_words - policy.min_words + 1))
    )
    if not policy.min_words <= length <= policy.max_words:
        raise InvalidParameterError(
            f"a challenge has {policy.min_words} to {policy.max_words} words, not {length}"
        )
    ttl = policy.ttl_seconds if ttl_seconds is None else ttl_seconds
    if not 0 < ttl <= policy.max_ttl_seconds:
        raise InvalidParameterError(
            f"a challenge lives more than 0 and at most {policy.max_ttl_seconds:g} seconds"
        )
    vocabulary = CHALLENGE_VOCABULARY[kind]
    phrase = " ".join(secrets.choice(vocabulary) for _ in range(length))
    return Challenge(
        id=str(uuid.uuid4()),
        namespace=namespace,
        kind=kind.value,
        phrase=phrase,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )


def competitors_of(challenge: Challenge) -> Competitors:
    """What else could have been said: any sequence of the challenge's words."""
    return Competitors(words=CHALLENGE_VOCABULARY[challenge_kind(challenge.kind)])
