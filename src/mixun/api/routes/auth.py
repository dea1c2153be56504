"""Login, logout, sessions, password change, two-factor, the lock screen."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mixun.api import models_consoles_a as m
from mixun.api.deps import COOKIE, Id, gate
from mixun.api.models import Login
from mixun.api.schemas import LoginIn, OtpIn, PasswordChangeIn, PasswordIn
from mixun.domain.roles import Perm
from mixun.services import auth
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=Login)
def login(body: LoginIn, request: Request, response: Response,
          ctx: Annotated[Ctx, Depends(gate(Perm.PUBLIC))]) -> dict[str, Any]:
    result = auth.login(ctx, body.username, body.password, body.otp)
    settings = ctx.rt.settings
    response.set_cookie(COOKIE, result.token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/",
                        max_age=int(settings.session_absolute_hours * 3600))
    return {"token": result.token, "user": result.user, "must_change_password": result.must_change_password,
            "must_enroll_totp": result.must_enroll_totp, "must_accept_rules": result.must_accept_rules}


@router.post("/password", status_code=204)
def change_password(body: PasswordChangeIn, ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> Response:
    auth.change_password(ctx, body.old_password, body.new_password)
    return Response(status_code=204)


@router.post("/logout", status_code=204)
def logout(ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> Response:
    auth.logout(ctx)
    resp = Response(status_code=204)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.post("/logout-all", status_code=204)
def logout_all(ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> Response:
    auth.logout_all(ctx)
    resp = Response(status_code=204)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/sessions", response_model=m.Sessions)
def sessions(ctx: Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]) -> dict[str, Any]:
    return {"sessions": auth.list_sessions(ctx, ctx.user_id)}


@router.delete("/sessions/{session_id}", status_code=204)
def end_session(session_id: Id, ctx: Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]) -> Response:
    auth.end_own_session(ctx, session_id)
    return Response(status_code=204)


@router.post("/totp/enroll", response_model=m.TotpEnrollment)
def totp_enroll(ctx: Annotated[Ctx, Depends(gate(Perm.TOTP_SETUP))]) -> dict[str, str]:
    return auth.totp_enroll(ctx)


@router.post("/totp/verify", response_model=m.RecoveryCodes)
def totp_verify(body: OtpIn, ctx: Annotated[Ctx, Depends(gate(Perm.TOTP_SETUP))]) -> dict[str, Any]:
    return {"recovery_codes": auth.totp_verify(ctx, body.otp)}


@router.post("/totp/disable", status_code=204)
def totp_disable(body: PasswordIn, ctx: Annotated[Ctx, Depends(gate(Perm.ACCOUNT))]) -> Response:
    auth.totp_disable(ctx, body.password)
    return Response(status_code=204)


@router.post("/lock", status_code=204)
def lock(ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> Response:
    """Lock this session on the server (the lock screen): everything but unlock, logout and a minimal
    /me answers 423 session_locked, in every tab, until the password is given again."""
    auth.lock_session(ctx)
    return Response(status_code=204)


@router.post("/unlock", status_code=204)
def unlock(body: PasswordIn, ctx: Annotated[Ctx, Depends(gate(Perm.SESSION))]) -> Response:
    """Unlock this session with the account's password; failures count toward the account lockout."""
    auth.unlock_session(ctx, body.password)
    return Response(status_code=204)
