"""Privacy routes: download everything, delete the account."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import AccountDeletion
from afterdark.credits.payments import customers
from afterdark.errors import AuthenticationError, PermissionDeniedError
from afterdark.kit.clock import utcnow
from afterdark.privacy import deletion
from afterdark.privacy import export as privacy_export
from afterdark.web.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["privacy"])


@router.get("/me/export")
async def export_me(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Everything the account has, as one zip (characters as cards, conversations, settings)."""
    data = await privacy_export.export_user(session, runtime.files, user)
    stamp = utcnow().strftime("%Y%m%d")
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="afterdark-export-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.delete("/me", status_code=204)
async def delete_me(
    data: AccountDeletion,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> None:
    """Delete this account and everything it has, for good (the password confirms it); its
    Stripe customer is deleted at Stripe after the answer (and retried until it is)."""
    try:
        await accounts_service.authenticate(session, user.email, data.password)
    except AuthenticationError:
        raise PermissionDeniedError(
            "That is not the account's password; nothing was deleted."
        ) from None
    customer = await deletion.delete_account(session, runtime.files, user)
    await session.commit()
    await deletion.scrub(runtime.database)
    if customer is not None:
        background.add_task(
            customers.try_delete_pending, runtime.database, runtime.settings.payments
        )
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
