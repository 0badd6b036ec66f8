"""Session tokens, wrapped credentials and the stores' expiry."""

from __future__ import annotations

from inferstack.console.sessions import (
    MemorySessionStore,
    Session,
    new_token,
    token_hash,
    unwrap,
    wrap,
)


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
