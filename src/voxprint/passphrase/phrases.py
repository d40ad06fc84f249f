"""The passphrases offered per locale, and the words spoken challenges are made of."""

from __future__ import annotations

from voxprint.errors import UnsupportedLocaleError

#: Azure Speaker Recognition's text-dependent passphrases for en-US (v2.0).
EN_US_PHRASES: tuple[str, ...] = (
    "i am going to make him an offer he cannot refuse",
    "houston we have had a problem",
    "my voice is my passport verify me",
    "apple juice tastes funny after toothpaste",
    "you can get in without your password",
    "you can activate security system now",
    "my voice is stronger than passwords",
    "my password is not your business",
    "my name is unknown to you",
    "be yourself everyone else is already taken",
)

#: Passphrases per locale (lower case, as Azure spells locales). The phrase check's
#: acoustic model is US English, so en-US is the only locale.
PHRASES: dict[str, tuple[str, ...]] = {"en-us": EN_US_PHRASES}

#: The digits a spoken challenge of digits is made of, in the order 0-9.
DIGITS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)

#: Words for word challenges: common, easy to read aloud, far apart in sound.
CHALLENGE_WORDS: tuple[str, ...] = (
    "apple",
    "river",
    "yellow",
    "garden",
    "window",
    "pencil",
    "rocket",
    "silver",
    "tiger",
    "candle",
    "monday",
    "orange",
    "market",
    "blanket",
    "coffee",
    "thunder",
    "purple",
    "island",
    "winter",
    "doctor",
    "basket",
    "camera",
    "forest",
    "guitar",
)


def supported_locales() -> tuple[str, ...]:
    return tuple(sorted(PHRASES))


def locale_key(locale: str) -> str:
    """``en-US`` / ``en_us`` -> ``en-us``."""
    return locale.strip().lower().replace("_", "-")


def phrases_for(locale: str) -> tuple[str, ...]:
    """The passphrases of ``locale``; :class:`UnsupportedLocaleError` names the supported
    locales otherwise."""
    key = locale_key(locale)
    if key not in PHRASES:
        raise UnsupportedLocaleError(
            f"locale {locale!r} is not supported for passphrases; supported: "
            f"{', '.join(supported_locales())}"
        )
    return PHRASES[key]


__all__ = [
    "CHALLENGE_WORDS",
    "DIGITS",
    "EN_US_PHRASES",
    "PHRASES",
    "locale_key",
    "phrases_for",
    "supported_locales",
]
