"""``/ui/api/*``: sign in and out, who am I, and what the console may show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from inferstack.console.auth import COOKIE, describe
from inferstack.errors import AuthenticationError

if TYPE_CHECKING:
    from inferstack.console.app import Console

__all__ = ["LoginRequest", "router"]

router = APIRouter(prefix="/ui/api", tags=["console"])


class LoginRequest(BaseModel):
    """Body of ``POST /ui/api/login``: a key, or a username and password."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=512, description="Master or virtual key")
    username: str | None = Field(default=None, max_length=255, description="user_id or email")
    password: str | None = Field(default=None, max_length=1024, description="The user's password")

    @model_validator(mode="after")
    def _one_form(self) -> LoginRequest:
        if self.key is not None and (self.username is not None or self.password is not None):
            raise ValueError("send either key, or username and password, not both")
        if self.key is None and (not self.username or not self.password):
            raise ValueError("send key, or username and password")
        return self


def console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def _https(request: Request) -> bool:
    # NOTE: a TLS-terminating load balancer (the chart's ALB) says so in X-Forwarded-Proto;
    # trusting it can only add Secure to the cookie, never take it away.
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(body: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
    app = console(request)
    address = _client(request)
    app.auth.throttle.check(address)
    try:
        if body.key is not None:
            token, session, who = await app.auth.login_key(body.key)
        else:
            token, session, who = await app.auth.login_password(
                body.username or "", body.password or ""
            )
    except AuthenticationError:
        app.auth.throttle.failed(address)
        raise
    previous = await app.auth.session(request)
    if previous is not None:  # a new sign-in in this browser ends the one before
        await app.auth.logout(*previous)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(session.expires_at - session.created_at),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_https(request),
    )
    return {"csrf_token": session.csrf_token, "principal": describe(who, session)}


@router.post("/logout")
async def logout(request: Request, response: Response) -> dict[str, bool]:
    app = console(request)
    found = await app.auth.session(request)
    if found is not None:
        app.auth.check_csrf(request, found[1])
        await app.auth.logout(*found)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return {"signed_out": found is not None}


@router.get("/me")
async def me(request: Request) -> dict[str, Any]:
    _, session, who = await console(request).auth.current(request)
    return {"csrf_token": session.csrf_token, "principal": describe(who, session)}


@router.get("/config")
async def config(request: Request) -> dict[str, Any]:
    app = console(request)
    return {
        "password_login": True,
        "trace_url_template": app.trace_url_template,
    }


@router.post("/playground/key")
async def playground_key(request: Request) -> dict[str, str]:
    """The bearer key the playground sends to ``/v1/*`` (the session's own, or one minted for
    the session); the page keeps it in memory only."""
    app = console(request)
    token, session, who = await app.auth.current(request)
    app.auth.check_csrf(request, session)
    return {"key": await app.auth.playground_key(token, session, who)}
