"""Age assurance routes: status, start (a redirect to the verifier), the signed callback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from afterdark.safety import age
from afterdark.web.deps import CurrentUser, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/age", tags=["age"])


class AgeStatus(BaseModel):
    provider: str
    verified: bool
    status: str | None
    method: str | None
    jurisdiction: str | None
    checked_at: datetime | None


class AgeStart(BaseModel):
    redirect_url: str


def _base(request: Request, runtime: RuntimeDep) -> str:
    return (runtime.settings.server.public_url or str(request.base_url)).rstrip("/")


@router.get("")
async def get_status(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> AgeStatus:
    """Whether the user passed an age check, and how (outcome only)."""
    check = await age.latest(session, user)
    return AgeStatus(
        provider=runtime.settings.age.provider,
        verified=check is not None and check.status == "passed",
        status=check.status if check else None,
        method=check.method if check else None,
        jurisdiction=check.jurisdiction if check else None,
        checked_at=check.checked_at if check else None,
    )


@router.post("/start")
async def start_check(
    request: Request, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> AgeStart:
    """Begin an age check; the browser goes to ``redirect_url`` next."""
    callback = f"{_base(request, runtime)}/api/v1/age/callback"
    return AgeStart(redirect_url=await age.start(session, runtime.settings.age, user, callback))


@router.get("/callback", include_in_schema=False)
async def callback(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    state: Annotated[str, Query(max_length=200)] = "",
    result: Annotated[str, Query(max_length=20)] = "",
    method: Annotated[str, Query(max_length=40)] = "",
    jurisdiction: Annotated[str, Query(max_length=16)] = "",
    ts: Annotated[str, Query(max_length=20)] = "",
    sig: Annotated[str, Query(max_length=128)] = "",
) -> RedirectResponse:
    """Where the verifier sends the user back; the single-use state stands in for a login."""
    params = {
        "state": state,
        "result": result,
        "method": method,
        "jurisdiction": jurisdiction,
        "ts": ts,
        "sig": sig,
    }
    check = await age.finish(session, runtime.settings.age, params)
    return RedirectResponse(
        f"{_base(request, runtime)}/settings?age={check.status}#age", status_code=303
    )
