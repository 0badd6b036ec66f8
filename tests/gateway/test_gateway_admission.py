"""Admission through the gateway: reservations under concurrency, cancellation, tenant isolation."""

from __future__ import annotations

import asyncio

import pytest


async def _key_id(gateway, key: str) -> str:
    info = await gateway.client.get("/key/info", headers=gateway.auth(key))
    return str(info.json()["key_id"])


async def test_50_concurrent_requests_on_a_budget_that_allows_5(make_gateway) -> None:
    """Every output token costs $1; each request may use 3; a budget of $16 allows 5."""
    groups = {
        "chat": {
            "deployments": [
                {"api_base": "http://a/v1", "name": "a", "output_cost_per_million": 1e6},
            ]
        }
    }
    async with make_gateway(model_groups=groups) as gw:
        key = await gw.new_key(max_budget=16)
        responses = await asyncio.gather(*(gw.chat(key, max_tokens=3) for _ in range(50)))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 5 and statuses.count(429) == 45
        refused = [r.json()["error"] for r in responses if r.status_code == 429]
        assert {e["code"] for e in refused} == {"budget_exceeded"}
        await gw.gw.recorder.flush()
        (spent,) = [k["spend"] for k in await gw.gw.reports.keys()]
        assert spent == pytest.approx(15.0)  # overspend: 0
        last = await gw.chat(key, max_tokens=1)
        assert last.status_code == 200, last.text  # $1 still fits


async def test_tpm_holds_under_concurrency(gateway) -> None:
    """16 requests at once on tpm_limit 300: the tokens used stay within 300."""
    gateway.upstream.prompt_tokens = 50
    key = await gateway.new_key(tpm_limit=300)
    responses = await asyncio.gather(*(gateway.chat(key, max_tokens=3) for _ in range(16)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 2
    await gateway.gw.recorder.flush()
    logs = await gateway.gw.reports.logs()
    used = sum(log["prompt_tokens"] + log["completion_tokens"] for log in logs)
    assert used <= 300 and used == 53 * statuses.count(200)


async def test_a_request_that_can_never_fit_the_tpm_limit_names_max_tokens(gateway) -> None:
    key = await gateway.new_key(tpm_limit=100)
    response = await gateway.chat(key, max_tokens=500)
    assert response.status_code == 429
    assert response.json()["error"]["param"] == "max_tokens"
    assert gateway.upstream.seen == []


async def test_cancelled_requests_leak_neither_slots_nor_in_flight_counts(gateway) -> None:
    key = await gateway.new_key(max_parallel_requests=1)
    key_id = await _key_id(gateway, key)
    gateway.upstream.fail = {"a": ["hang", "hang"], "b": ["hang", "hang"]}
    for stream in (False, True):
        task = asyncio.create_task(gateway.chat(key, stream=stream))
        await asyncio.wait_for(gateway.upstream.hanging.wait(), 10)
        gateway.upstream.hanging.clear()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await gateway.gw.settlement.drain()
        assert [dep.outstanding for dep in gateway.gw.pool.all()] == [0, 0, 0, 0]
        assert await gateway.gw.counters.held(f"parallel:{key_id}") == 0
    gateway.upstream.fail = {}
    assert (await gateway.chat(key)).status_code == 200


async def test_fallback_groups_respect_the_keys_model_list(make_gateway, upstream) -> None:
    upstream.down = {"a", "b"}
    async with make_gateway(router={"fallbacks": {"chat": ["backup"]}}) as gw:
        only_chat = await gw.new_key(models=["chat"])
        refused = await gw.chat(only_chat)
        assert refused.status_code in (502, 503)
        assert all(host != "c" for host, _ in upstream.seen)  # backup is not this key's model
        both = await gw.new_key(models=["chat", "backup"])
        assert (await gw.chat(both)).status_code == 200
        assert upstream.seen[-1][0] == "c"


async def test_the_cache_is_per_tenant_and_hits_count_toward_tpm(make_gateway, upstream) -> None:
    async with make_gateway(cache={"enabled": True}) as gw:
        alice = await gw.new_key(tpm_limit=10_000)
        bob = await gw.new_key()
        secret = [{"role": "user", "content": "alice's question"}]
        first = await gw.chat(alice, messages=secret, temperature=0)
        again = await gw.chat(alice, messages=secret, temperature=0)
        assert again.headers.get("x-inferstack-cache") == "hit"
        other = await gw.chat(bob, messages=secret, temperature=0)
        assert "x-inferstack-cache" not in other.headers  # bob never sees alice's entry
        assert len(upstream.seen) == 2
        window = [k for k in gw.gw.counters._values if k.startswith("tpm:")]
        (name,) = window
        assert await gw.gw.counters.get(name) == 2 * first.json()["usage"]["total_tokens"]


async def test_the_memory_cache_is_bounded_by_bytes(make_gateway) -> None:
    from inferstack.gateway.cache import MemoryCache

    cache = MemoryCache(ttl_s=60, max_entries=1000, max_bytes=100)
    for i in range(10):
        await cache.set(f"k{i}", b"x" * 30)
    assert cache.size_bytes <= 100
    assert await cache.get("k9") == b"x" * 30 and await cache.get("k0") is None
    await cache.set("huge", b"y" * 1000)
    assert await cache.get("huge") is None and await cache.get("k9") is not None


async def test_duplicate_json_keys_are_refused(gateway) -> None:
    raw = b'{"model": "backup", "model": "chat", "messages": []}'
    response = await gateway.client.post(
        "/v1/chat/completions", content=raw, headers=gateway.auth()
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
    nested = b'{"model": "chat", "messages": [{"role": "user", "content": "a", "content": "b"}]}'
    response = await gateway.client.post(
        "/v1/chat/completions", content=nested, headers=gateway.auth()
    )
    assert response.status_code == 400
    assert gateway.upstream.seen == []


async def test_limits_are_checked_before_the_body_is_read(gateway) -> None:
    key = await gateway.new_key(rpm_limit=1)
    assert (await gateway.chat(key)).status_code == 200
    read = []

    async def body():
        read.append(True)
        yield b'{"model": "chat", "messages": []}'

    response = await gateway.client.post(
        "/v1/chat/completions", content=body(), headers=gateway.auth(key)
    )
    assert response.status_code == 429
    assert read == []  # refused without reading a byte of the body


async def test_unknown_keys_are_remembered_not_queried_each_time(gateway) -> None:
    from sqlalchemy import event

    queries: list[str] = []
    engine = gateway.gw.db.engine.sync_engine
    listener = lambda *args: queries.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(50):
            refused = await gateway.chat("sk-made-up-key")
            assert refused.status_code == 401
        assert len([q for q in queries if "virtual_keys" in q]) == 1
        key = await gateway.new_key()  # a new key is never mistaken for an unknown one
        assert (await gateway.chat(key)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
