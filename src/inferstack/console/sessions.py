"""Console sessions: a random token in an HTTP-only cookie, its SHA-256 in the store.

The store never holds a token, only its hash, so a copy of the store (a Redis dump) opens no
session. The credential a session stands for (the key it signed in with, or the key minted for
it) is kept *wrapped* under a keystream derived from the token: only a request that presents
the cookie can unwrap it, and a store copy leaks no key either.

Sessions live in memory (one replica), or in Redis when the gateway has one (replicas share
them); both expire them after ``session_ttl_s``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from inferstack.errors import ServiceUnavailableError

__all__ = [
    "Kind",
    "MemorySessionStore",
    "RedisSessionStore",
    "Session",
    "SessionStore",
    "new_token",
    "token_hash",
    "unwrap",
    "wrap",
]

Kind = Literal["master", "key", "user"]
_REDIS_PREFIX = "inferstack:console:session:"


def new_token() -> str:
    """A fresh session token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keys a session by."""
    return hashlib.sha256(b"inferstack-console-session\0" + token.encode()).hexdigest()


def _keystream(token: str, label: str, size: int) -> bytes:
    return hashlib.shake_256(f"inferstack-console-wrap\0{label}\0{token}".encode()).digest(size)


def wrap(token: str, label: str, secret: str) -> str:
    """``secret`` encrypted under ``token`` (one label is used once per token)."""
    data = secret.encode()
    stream = _keystream(token, label, len(data))
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, stream, strict=True))).decode()


def unwrap(token: str, label: str, wrapped: str) -> str:
    data = base64.b64decode(wrapped)
    stream = _keystream(token, label, len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True)).decode(errors="replace")


@dataclass
class Session:
    """One signed-in browser. ``credential`` is the wrapped key a key session acts with (none
    for a password session, which acts as its user); ``playground`` the wrapped key minted for
    the session's playground."""

    id_hash: str
    kind: Kind
    credential: str | None
    csrf_token: str
    created_at: float
    expires_at: float
    user_id: str | None = None
    minted_key_ids: list[str] = field(default_factory=list)
    playground: str | None = None

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token.encode()
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Session:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


class SessionStore(Protocol):
    """Where sessions live between requests."""

    async def put(self, session: Session) -> None: ...

    async def get(self, id_hash: str) -> Session | None: ...

    async def delete(self, id_hash: str) -> None: ...


class MemorySessionStore:
    """Sessions of one replica, at most ``max_sessions`` (the oldest go first)."""

    def __init__(self, max_sessions: int, clock: Callable[[], float] = time.time) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._max = max_sessions
        self._clock = clock

    async def put(self, session: Session) -> None:
        self._sessions[session.id_hash] = session
        self._sessions.move_to_end(session.id_hash)
        now = self._clock()
        for id_hash in [h for h, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[id_hash]
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)

    async def get(self, id_hash: str) -> Session | None:
        session = self._sessions.get(id_hash)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[id_hash]
            return None
        return session

    async def delete(self, id_hash: str) -> None:
        self._sessions.pop(id_hash, None)


class RedisSessionStore:
    """Sessions shared by every replica through the gateway's Redis (``redis.asyncio``).

    Redis unreachable: 503 with Retry-After (sign-in and cookie requests fail closed; bearer
    keys are unaffected)."""

    def __init__(self, redis: Any, clock: Callable[[], float] = time.time) -> None:
        from redis.exceptions import RedisError

        self._redis = redis
        self._clock = clock
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)

    def _unavailable(self, exc: BaseException) -> ServiceUnavailableError:
        return ServiceUnavailableError(
            f"the console's session store is unavailable ({type(exc).__name__}); retry shortly",
            headers={"Retry-After": "5"},
        )

    async def put(self, session: Session) -> None:
        ttl = max(1, int(session.expires_at - self._clock()))
        try:
            await self._redis.set(_REDIS_PREFIX + session.id_hash, session.to_json(), ex=ttl)
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    async def get(self, id_hash: str) -> Session | None:
        try:
            raw = await self._redis.get(_REDIS_PREFIX + id_hash)
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        if raw is None:
            return None
        session = Session.from_json(raw)
        return session if session.expires_at > self._clock() else None

    async def delete(self, id_hash: str) -> None:
        try:
            await self._redis.delete(_REDIS_PREFIX + id_hash)
        except self._errors as exc:
            raise self._unavailable(exc) from exc
