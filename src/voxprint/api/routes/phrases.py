"""Passphrases offered per locale, and spoken challenges (liveness against replay).

A challenge is answered with ``POST /v1/profiles/{id}/verify?challenge=ID``
(:mod:`voxprint.api.routes.recognition`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from voxprint.api import render
from voxprint.api.schemas import (
    PROFILE_ID_PATTERN,
    ChallengeCreate,
    ChallengeOut,
    PhrasesOut,
    error_responses,
)
from voxprint.api.spoken import PassphraseDep
from voxprint.passphrase.challenges import ChallengeKind
from voxprint.passphrase.phrases import locale_key, supported_locales
from voxprint.passphrase.service import DEFAULT_LOCALE

router = APIRouter(tags=["passphrases"])


@router.get(
    "/v1/phrases",
    response_model=PhrasesOut,
    summary="The passphrases a text-dependent profile can use in a locale.",
    responses=error_responses(400),
)
def phrases(
    passphrases: PassphraseDep,
    locale: Annotated[str, Query(min_length=2, max_length=10)] = DEFAULT_LOCALE,
) -> PhrasesOut:
    return render.phrases(locale_key(locale), passphrases.phrases(locale), supported_locales())


@router.post(
    "/v1/challenges",
    status_code=201,
    response_model=ChallengeOut,
    summary="A new spoken challenge: a random phrase to say once, before it expires.",
    responses=error_responses(400),
)
def create_challenge(
    passphrases: PassphraseDep,
    body: Annotated[ChallengeCreate | None, Body()] = None,
) -> ChallengeOut:
    wanted = body or ChallengeCreate()
    challenge = passphrases.create_challenge(
        ChallengeKind(wanted.kind), words=wanted.words, ttl_seconds=wanted.ttl_seconds
    )
    return render.challenge(challenge)


@router.get(
    "/v1/challenges/{challenge_id}",
    response_model=ChallengeOut,
    summary="A challenge you made: its phrase, expiry and whether it was used.",
    responses=error_responses(404),
)
def get_challenge(
    passphrases: PassphraseDep,
    challenge_id: Annotated[str, Path(pattern=PROFILE_ID_PATTERN)],
) -> ChallengeOut:
    return render.challenge(passphrases.get_challenge(challenge_id))
