"""The caller's :class:`~voxprint.passphrase.service.PassphraseService` (passphrases and
spoken challenges), built once per app from the settings and scoped to the key's namespace."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voxprint.api.deps import Principal, app_state, authenticate
from voxprint.api.state import AppState
from voxprint.passphrase import load_recognizer
from voxprint.passphrase.challenges import ChallengePolicy
from voxprint.passphrase.service import PassphrasePolicy, PassphraseService

#: Where the app keeps its passphrase service (``AppState.extensions``).
EXTENSION = "voxprint.passphrase"


def app_passphrases(state: AppState) -> PassphraseService:
    """The app's passphrase service (made on first use; the recogniser loads lazily)."""
    service: PassphraseService | None = state.extensions.get(EXTENSION)
    if service is None:
        settings = state.settings
        service = PassphraseService(
            core=state.service,
            recognizer=load_recognizer(settings.phrase_recognizer),
            policy=PassphrasePolicy(
                min_clips=settings.passphrase_clips,
                challenges=ChallengePolicy(
                    ttl_seconds=settings.challenge_ttl_seconds,
                    max_ttl_seconds=max(600.0, settings.challenge_ttl_seconds),
                ),
            ),
        )
        state.extensions[EXTENSION] = service
    return service


def namespaced_passphrases(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> PassphraseService:
    return app_passphrases(app_state(request)).in_namespace(principal.namespace)


PassphraseDep = Annotated[PassphraseService, Depends(namespaced_passphrases)]
