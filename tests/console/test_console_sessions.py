"""Session tokens, wrapped credentials and the stores' expiry."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from inferstack.console.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    new_token,
    token_hash,
    unwrap,
    wrap,
)
from support.servers import free_port
from support.services import wait_until


def _session(token: str, expires_at: float) -> Session:
    return Session(
        id_hash=token_hash(token),
        kind="key",
        credential=wrap(token, "credential", "sk-secret-1"),
        csrf_token=new_token(),
        created_at=0.0,
        expires_at=expires_at,
    )


def test_a_wrapped_key_opens_only_with_its_token() -> None:
    token, other = new_token(), new_token()
    wrapped = wrap(token, "credential", "sk-abc123")
    assert "sk-abc123" not in wrapped
    assert unwrap(token, "credential", wrapped) == "sk-abc123"
    assert unwrap(other, "credential", wrapped) != "sk-abc123"
    assert wrap(token, "playground", "sk-abc123") != wrapped  # one stream per label
    assert token_hash(token) != token and len(token_hash(token)) == 64


def test_the_session_survives_a_json_round_trip() -> None:
    token = new_token()
    session = _session(token, 100.0)
    back = Session.from_json(session.to_json())
    assert back == session
    assert token not in session.to_json()  # the store never holds the token
    assert back.csrf_ok(session.csrf_token)
    assert not back.csrf_ok(None) and not back.csrf_ok(session.csrf_token + "x")


async def test_the_memory_store_expires_and_evicts() -> None:
    now = [0.0]
    store = MemorySessionStore(max_sessions=2, clock=lambda: now[0])
    a, b, c = new_token(), new_token(), new_token()
    await store.put(_session(a, 10.0))
    await store.put(_session(b, 100.0))
    assert await store.get(token_hash(a)) is not None
    now[0] = 10.0
    assert await store.get(token_hash(a)) is None  # expired
    await store.put(_session(c, 100.0))
    await store.put(_session(a, 100.0))  # a third live one: the oldest (b) goes
    assert await store.get(token_hash(b)) is None
    assert await store.get(token_hash(c)) is not None
    await store.delete(token_hash(c))
    assert await store.get(token_hash(c)) is None


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real ``redis-server`` on 127.0.0.1 and a free port, no persistence."""
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_until(answers, 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_the_redis_store_shares_sessions_and_expires_them(redis_url: str) -> None:
    from redis.asyncio import Redis

    now = [1000.0]
    one, other = Redis.from_url(redis_url), Redis.from_url(redis_url)  # two replicas
    try:
        first = RedisSessionStore(one, clock=lambda: now[0])
        second = RedisSessionStore(other, clock=lambda: now[0])
        token = new_token()
        session = _session(token, expires_at=1010.0)
        await first.put(session)
        assert await second.get(token_hash(token)) == session
        raw = await other.get("inferstack:console:session:" + token_hash(token))
        assert token.encode() not in raw and b"sk-secret-1" not in raw
        assert 0 < await other.ttl("inferstack:console:session:" + token_hash(token)) <= 10
        now[0] = 1010.0
        assert await second.get(token_hash(token)) is None  # expired by the clock too
        now[0] = 1000.0
        await second.delete(token_hash(token))
        assert await first.get(token_hash(token)) is None
    finally:
        await one.aclose()
        await other.aclose()


async def test_an_unreachable_redis_is_a_503_not_a_crash() -> None:
    from redis.asyncio import Redis

    from inferstack.errors import ServiceUnavailableError

    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    store = RedisSessionStore(gone)
    try:
        with pytest.raises(ServiceUnavailableError) as refused:
            await store.get(token_hash(new_token()))
        assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "5"
        with pytest.raises(ServiceUnavailableError):
            await store.put(_session(new_token(), expires_at=time.time() + 60))
    finally:
        await gone.aclose()
