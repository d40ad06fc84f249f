"""The activity log of the key's namespace: what was enrolled, verified, identified,
reset and deleted, and the outcomes (``voxprint activity`` on the command line).

It touches only the store, so it is a plain ``def`` route (FastAPI's thread pool).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from voxprint.api import render
from voxprint.api.deps import ServiceDep
from voxprint.api.schemas import MAX_PAGE, PROFILE_ID_PATTERN, ActivityList, error_responses
from voxprint.service import MAX_ACTIVITY_ID, MAX_LISTED

router = APIRouter(tags=["activity"])


@router.get(
    "/v1/activity",
    response_model=ActivityList,
    summary="Your activity log, newest first, a page at a time: each enrolment, "
    "verification, identification, reset and deletion of your namespace, with its result.",
    responses=error_responses(400),
)
def activity(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_LISTED, description="Newest entries to skip.")] = 0,
    before_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ACTIVITY_ID,
            description="Only entries whose id is below this: the previous page's "
            "`next_before_id`. A cursor to page with while entries are being logged (an "
            "offset counts from the newest entry, so a new one shifts it).",
        ),
    ] = None,
    profile_id: Annotated[
        str | None,
        Query(
            pattern=PROFILE_ID_PATTERN,
            description="Only the entries of this profile (a deleted one's stay).",
        ),
    ] = None,
) -> ActivityList:
    page = service.activity_page(
        limit=limit, offset=offset, profile_id=profile_id, before_id=before_id
    )
    return render.activity(page)
