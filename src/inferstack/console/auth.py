"""Signing in to the console, and the session principal the gateway's routes accept.

A key session (the master key or a virtual key) acts as that key: its principal is the one the
gateway gives a bearer of the key, so the same permissions apply. A password session acts as
the user (no key); its playground gets a key minted for the session, owned by the user,
expiring with the session and revoked at sign-out. The gateway's routes resolve a cookie to
that principal through :meth:`ConsoleAuth.lookup` (registered as ``Gateway.sessions``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import Request

from inferstack.console.sessions import (
    Kind,
    Session,
    SessionStore,
    new_token,
    token_hash,
    unwrap,
    wrap,
)
from inferstack.console.settings import ConsoleSettings
from inferstack.errors import AuthenticationError, PermissionDeniedError, RateLimitError

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "ConsoleAuth",
    "IdentityBackend",
    "KeyBackend",
    "LoginThrottle",
    "describe",
]

COOKIE = "inferstack_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_CREDENTIAL = "credential"
_PLAYGROUND = "playground"


class KeyBackend(Protocol):
    """What the console needs of the gateway's key service."""

    async def authenticate(self, key: str | None) -> Any: ...

    async def generate(self, spec: Any, who: Any) -> tuple[str, Any]: ...

    async def delete(self, key_ids: list[str], keys: list[str], who: Any) -> list[str]: ...


class IdentityBackend(Protocol):
    """What the console needs of the gateway's users: passwords and principals."""

    async def verify_password(self, login: str, password: str) -> Any: ...

    async def principal_of_key(self, key: Any) -> Any: ...

    async def principal_of_user(self, user_id: str) -> Any: ...


def describe(who: Any, session: Session) -> dict[str, Any]:
    """The signed-in identity as the console shows it (never a secret)."""
    key = who.key
    return {
        **who.to_json(),
        "session": session.kind,
        "alias": key.alias if key is not None else None,
        "models": list(key.models) if key is not None else [],
        "is_admin": who.reads_all,
        "can_write": who.is_admin,
        "makes_keys": who.makes_keys(),
        "expires_at": session.expires_at,
    }


class LoginThrottle:
    """At most ``per_minute`` failed sign-ins per client address in any minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, address: str) -> None:
        recent = self._recent(address)
        if len(recent) >= self._per_minute:
            raise RateLimitError(
                "too many failed sign-ins from this address; wait a minute",
                retry_after=60 - (self._clock() - recent[0]),
            )

    def failed(self, address: str) -> None:
        self._recent(address).append(self._clock())
        if len(self._failures) > 100_000:  # a flood of addresses: forget the quiet ones
            for addr in [a for a, q in self._failures.items() if not q]:
                del self._failures[addr]

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque())
        while recent and self._clock() - recent[0] >= 60:
            recent.popleft()
        return recent


class ConsoleAuth:
    """Sessions over the gateway's keys and users."""

    def __init__(
        self,
        keys: KeyBackend,
        users: IdentityBackend,
        store: SessionStore,
        settings: ConsoleSettings,
        *,
        is_master: Callable[[str], bool],
        key_spec: Callable[..., Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._users = users
        self._store = store
        self._settings = settings
        self._is_master = is_master
        self._key_spec = key_spec
        self._clock = clock
        self.throttle = LoginThrottle(settings.login_failures_per_minute)

    # -- signing in and out -----------------------------------------------------------------

    async def login_key(self, secret: str) -> tuple[str, Session, Any]:
        """A session acting as a master or virtual key; 401 for anything else."""
        who = await self._users.principal_of_key(await self._keys.authenticate(secret))
        token, session = self._new("master" if self._is_master(secret) else "key")
        session.credential = wrap(token, _CREDENTIAL, secret)
        session.user_id = who.user_id
        await self._store.put(session)
        return token, session, who

    async def login_password(self, login: str, password: str) -> tuple[str, Session, Any]:
        """A session acting as the user whose id or e-mail is ``login``."""
        user = await self._users.verify_password(login, password)
        who = await self._users.principal_of_user(user.user_id) if user is not None else None
        if who is None:
            raise AuthenticationError("wrong username or password")
        token, session = self._new("user")
        session.user_id = user.user_id
        await self._store.put(session)
        return token, session, who

    def _new(self, kind: Kind) -> tuple[str, Session]:
        token = new_token()
        now = self._clock()
        session = Session(
            id_hash=token_hash(token),
            kind=kind,
            credential=None,
            csrf_token=new_token(),
            created_at=now,
            expires_at=now + self._settings.session_ttl_s,
        )
        return token, session

    async def logout(self, token: str, session: Session) -> None:
        """End the session and revoke every key minted for it."""
        await self._store.delete(session.id_hash)
        if not session.minted_key_ids:
            return
        try:
            who = await self._principal(token, session)
        except AuthenticationError:
            return  # the identity is gone; the minted keys expire with the session anyway
        await self._keys.delete(list(session.minted_key_ids), [], who)

    # -- resolving a request ----------------------------------------------------------------

    async def session(self, request: Request) -> tuple[str, Session] | None:
        """The request's session, if its cookie names a live one."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        session = await self._store.get(token_hash(token))
        return (token, session) if session is not None else None

    async def _principal(self, token: str, session: Session) -> Any:
        if session.credential is not None:
            secret = unwrap(token, _CREDENTIAL, session.credential)
            return await self._users.principal_of_key(await self._keys.authenticate(secret))
        who = await self._users.principal_of_user(session.user_id or "")
        if who is None:
            raise AuthenticationError("the signed-in user no longer exists")
        return who

    async def current(self, request: Request) -> tuple[str, Session, Any]:
        """The live session and its principal; 401 when signed out, expired or revoked."""
        found = await self.session(request)
        if found is None:
            raise AuthenticationError("not signed in (or the session expired): sign in again")
        token, session = found
        return token, session, await self._principal(token, session)

    async def lookup(self, request: Request) -> Any:
        """The gateway's hook (``Gateway.sessions``): the principal of the request's session.

        ``None`` without a session cookie (the route then asks for a bearer key); 401 for a
        stale cookie; 403 for a state-changing request without the session's CSRF token.
        """
        if not request.cookies.get(COOKIE):
            return None
        found = await self.session(request)
        if found is None:
            raise AuthenticationError("the console session expired or was signed out")
        token, session = found
        if request.method not in _SAFE_METHODS:
            self.check_csrf(request, session)
        return await self._principal(token, session)

    @staticmethod
    def check_csrf(request: Request, session: Session) -> None:
        if not session.csrf_ok(request.headers.get(CSRF_HEADER)):
            raise PermissionDeniedError(
                "a cookie-authenticated request that changes state needs the session's "
                f"{CSRF_HEADER} header",
                param=CSRF_HEADER,
                code="csrf_failed",
            )

    # -- the playground ---------------------------------------------------------------------

    async def playground_key(self, token: str, session: Session, who: Any) -> str:
        """The key the playground sends as its bearer: a key session's own key; for a master
        or password session one minted once for the session (the master key never reaches the
        page), expiring with it, owned by the signed-in user."""
        if session.kind == "key" and session.credential is not None:
            return unwrap(token, _CREDENTIAL, session.credential)
        if session.playground is not None:
            return unwrap(token, _PLAYGROUND, session.playground)
        fields: dict[str, Any] = {
            "alias": f"console playground ({who.user_id or session.kind} session)",
            "duration": max(60, int(session.expires_at - self._clock())),
            "metadata": {"console_session": True},
        }
        if who.user_id is not None:
            fields["user_id"] = who.user_id
        secret, info = await self._keys.generate(self._key_spec(**fields), who)
        session.playground = wrap(token, _PLAYGROUND, secret)
        session.minted_key_ids.append(info.key_id)
        await self._store.put(session)
        return secret
