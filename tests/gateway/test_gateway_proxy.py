"""Proxying: bodies, streams, upstream errors, retries, cooldown, fallbacks, bad input."""

from __future__ import annotations

import asyncio
import json
import random

SEED_A_FIRST = 1  # with this seed, weighted routing picks deployment a first


def sse_events(text: str) -> list[str]:
    return [block[len("data: ") :] for block in text.split("\n\n") if block.startswith("data: ")]


async def test_chat_is_forwarded_with_the_upstream_model_name(gateway) -> None:
    response = await gateway.chat(gateway.master, temperature=0.5, user="u1")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from upstream"
    host, sent = gateway.upstream.seen[-1]
    assert host in {"a", "b"}
    # only the model name changes; every other field reaches the upstream untouched
    assert sent == {
        "model": "up-chat",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.5,
        "user": "u1",
    }
    assert response.headers["x-inferstack-deployment"] == host
    assert len(response.headers["x-request-id"]) == 32


async def test_body_is_forwarded_byte_for_byte_when_the_model_name_matches(gateway) -> None:
    raw = b'{"model":"backup",  "prompt":"Q: 2+2?\\nA:", "max_tokens": 3, "x_extra": [1]}'
    response = await gateway.client.post("/v1/completions", content=raw, headers=gateway.auth())
    assert response.status_code == 200
    assert gateway.upstream.seen[-1] == ("c", json.loads(raw))


async def test_client_request_id_is_kept_and_sent_upstream(gateway) -> None:
    headers = {**gateway.auth(), "x-request-id": "my-trace-42"}
    response = await gateway.client.post(
        "/v1/chat/completions", json={"model": "chat", "messages": []}, headers=headers
    )
    assert response.headers["x-request-id"] == "my-trace-42"
    sent = gateway.upstream.headers[-1]
    assert sent["x-request-id"] == "my-trace-42"
    assert "authorization" not in sent  # the client's key never goes upstream


async def test_stream_passes_events_and_strips_the_usage_chunk_it_asked_for(gateway) -> None:
    response = await gateway.chat(gateway.master, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Hello from upstream"
    assert all("usage" not in c for c in chunks)
    # the gateway asked the upstream for usage so it can count tokens
    assert gateway.upstream.seen[-1][1]["stream_options"] == {"include_usage": True}
    await gateway.gw.recorder.flush()
    logs = await gateway.gw.reports.logs()
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"], logs[0]["stream"]) == (
        7,
        3,
        True,
    )
    assert logs[0]["ttft_ms"] is not None


async def test_a_stream_ends_at_done_even_if_the_upstream_keeps_its_connection(gateway) -> None:
    # Seen in CI: the client read [DONE] and hung up while the relay still waited for the
    # upstream to close, and a complete answer went into the spend log as 499.
    gateway.upstream.fail = {"a": ["linger"], "b": ["linger"]}
    response = await asyncio.wait_for(gateway.chat(gateway.master, stream=True), 10)
    assert sse_events(response.text)[-1] == "[DONE]"
    await gateway.gw.recorder.flush()
    (log,) = await gateway.gw.reports.logs()
    assert (log["status_code"], log["completion_tokens"]) == (200, 3)


async def test_stream_keeps_the_usage_chunk_when_the_client_asks(gateway) -> None:
    response = await gateway.chat(
        gateway.master, stream=True, stream_options={"include_usage": True}
    )
    events = sse_events(response.text)
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 3


async def test_embeddings_and_models(gateway) -> None:
    response = await gateway.client.post(
        "/v1/embeddings", json={"model": "embed", "input": ["a", "b"]}, headers=gateway.auth()
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2
    models = await gateway.client.get("/v1/models", headers=gateway.auth())
    assert [m["id"] for m in models.json()["data"]] == ["chat", "backup", "embed"]
    limited = await gateway.new_key(models=["embed"])
    models = await gateway.client.get("/v1/models", headers=gateway.auth(limited))
    assert [m["id"] for m in models.json()["data"]] == ["embed"]


async def test_client_errors_come_back_as_the_upstream_sent_them_without_retry(gateway) -> None:
    gateway.upstream.fail = {"a": [400], "b": [400]}
    response = await gateway.chat(gateway.master)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("upstream ")
    assert len(gateway.upstream.seen) == 1


async def test_5xx_is_retried_on_another_deployment_and_blamed_on_it(
    make_gateway, upstream
) -> None:
    upstream.fail = {"a": [500]}
    router = {"allowed_fails": 1, "strategy": "weighted"}
    async with make_gateway(rng=random.Random(SEED_A_FIRST), router=router) as gw:
        response = await gw.chat(gw.master)
        assert response.status_code == 200
        assert [host for host, _ in upstream.seen] == ["a", "b"]
        a, b = gw.gw.pool.groups["chat"]
        assert a.cooldown_until > 0  # b answered what a failed: a is at fault and rests
        assert b.cooldown_until == 0


async def test_a_request_failing_the_same_way_twice_stops_and_cools_nothing(
    make_gateway, upstream
) -> None:
    upstream.fail = {"a": [503, 503, 503], "b": [503, 503, 503]}
    async with make_gateway(router={"num_retries": 2, "allowed_fails": 1}) as gw:
        response = await gw.chat(gw.master)
        assert response.status_code == 503
        assert response.json()["error"]["message"].startswith("upstream ")
        assert len(upstream.seen) == 2  # two deployments, same answer: the request's fault
        assert all(dep.cooldown_until == 0 for dep in gw.gw.pool.all())


async def test_poison_requests_in_a_loop_do_not_take_the_model_offline(
    make_gateway, upstream
) -> None:
    """One tenant sends requests that make every model server fail; another keeps working."""
    upstream.poison = lambda body: 500 if "logit_bias" in body else None
    # the old defaults: one failure cools a deployment down for 30 s
    async with make_gateway(router={"allowed_fails": 1, "cooldown_s": 30}) as gw:
        attacker = await gw.new_key(alias="attacker")
        victim = await gw.new_key(alias="victim")

        async def loop(key: str, **body: object) -> list[int]:
            return [(await gw.chat(key, **body)).status_code for _ in range(25)]

        attacked, served = await asyncio.gather(
            loop(attacker, logit_bias={"\u00b2": 1}), loop(victim)
        )
        assert served.count(200) == 25  # the other tenant's success rate: 25/25
        assert attacked.count(500) == 25  # the attacker gets the upstream's error back
        poisoned = [body for _, body in upstream.seen if "logit_bias" in body]
        assert len(poisoned) == 2 * 25  # tried on two deployments, then returned
        assert all(dep.cooldown_until == 0 for dep in gw.gw.pool.all())


async def test_defaults_survive_one_bad_request(make_gateway, upstream) -> None:
    async with make_gateway() as gw:  # the default allowed_fails
        assert gw.gw.settings.router.allowed_fails > 1
        upstream.fail = {"a": ["connect"] * 2, "b": ["connect"] * 2}
        assert (await gw.chat(gw.master)).status_code == 502  # three attempts, all failed
        assert all(dep.cooldown_until == 0 for dep in gw.gw.pool.all())
        assert (await gw.chat(gw.master)).status_code == 200


async def test_connection_errors_give_a_502_with_a_useful_message(make_gateway, upstream) -> None:
    upstream.down = {"a", "b"}
    async with make_gateway() as gw:
        response = await gw.chat(gw.master)
    assert response.status_code in (502, 503)
    error = response.json()["error"]
    assert error["type"] in ("upstream_error", "service_unavailable")
    assert "chat" in error["message"] or "unreachable" in error["message"]


async def test_timeout_is_an_upstream_timeout_and_not_replayed(make_gateway, upstream) -> None:
    upstream.fail = {"a": ["timeout"], "b": ["timeout"]}
    async with make_gateway(router={"num_retries": 2}) as gw:
        response = await gw.chat(gw.master)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert len(upstream.seen) == 1  # the upstream ran it to the timeout: no replay elsewhere


async def test_failing_deployment_cools_down_and_a_healthy_probe_ends_it(
    make_gateway, upstream
) -> None:
    async with make_gateway(router={"allowed_fails": 1}) as gateway:
        await _cooldown_and_probe(gateway)


async def _cooldown_and_probe(gateway) -> None:
    gateway.upstream.fail = {"a": ["connect"], "b": ["connect"]}
    first = await gateway.chat(gateway.master)
    assert first.status_code == 502
    assert "unreachable" in first.json()["error"]["message"]
    assert len(gateway.upstream.seen) == 2
    # both deployments now rest: the gateway answers at once, without trying them
    second = await gateway.chat(gateway.master)
    assert second.status_code == 503
    assert "cooling down" in second.json()["error"]["message"]
    assert 55 <= int(second.headers["retry-after"]) <= 60
    assert len(gateway.upstream.seen) == 2
    pool = gateway.gw.pool
    b = pool.groups["chat"][1]
    pool.set_health(b, True)  # b answers a health probe: its cooldown ends
    third = await gateway.chat(gateway.master)
    assert third.status_code == 200
    assert gateway.upstream.seen[-1][0] == "b"


async def test_fallback_group_answers_when_the_group_is_down(make_gateway, upstream) -> None:
    upstream.down = {"a", "b"}
    async with make_gateway(router={"fallbacks": {"chat": ["backup"]}}) as gw:
        response = await gw.chat(gw.master)
    assert response.status_code == 200
    assert upstream.seen[-1] == (
        "c",
        {"model": "backup", "messages": [{"role": "user", "content": "hi"}]},
    )


async def test_stream_error_before_the_first_byte_is_retried(make_gateway, upstream) -> None:
    upstream.fail = {"a": ["connect"], "b": ["connect"]}
    async with make_gateway(router={"cooldown_s": 0}) as gw:
        response = await gw.chat(gw.master, stream=True)
    assert response.status_code == 200
    assert sse_events(response.text)[-1] == "[DONE]"
    assert len(upstream.seen) == 3


async def test_stream_broken_after_the_first_byte_ends_with_an_error_event_not_a_retry(
    gateway,
) -> None:
    gateway.upstream.fail = {"a": ["break"], "b": ["break"]}
    response = await gateway.chat(gateway.master, stream=True)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "Hello"
    assert json.loads(events[1])["error"]["type"] == "upstream_error"
    assert events[-1] == "[DONE]"
    assert len(gateway.upstream.seen) == 1  # never retried once bytes went out
    await gateway.gw.recorder.flush()
    assert (await gateway.gw.reports.logs())[0]["status_code"] == 502


async def test_bad_input(gateway) -> None:
    c, auth = gateway.client, gateway.auth()
    assert (await c.post("/v1/chat/completions", json={"model": "chat"})).status_code == 401
    bad_key = await c.post(
        "/v1/chat/completions", json={"model": "chat"}, headers=gateway.auth("sk-nope")
    )
    assert bad_key.status_code == 401 and bad_key.json()["error"]["type"] == "authentication_error"
    assert (await c.post("/v1/chat/completions", content=b"{", headers=auth)).status_code == 400
    assert (await c.post("/v1/chat/completions", json=[1], headers=auth)).status_code == 400
    assert (
        await c.post("/v1/chat/completions", json={"messages": []}, headers=auth)
    ).status_code == 400
    missing = await c.post("/v1/chat/completions", json={"model": "nope"}, headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    key = await gateway.new_key(models=["backup"])
    denied = await gateway.chat(key)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "model_not_allowed"
    route = await c.get("/v2/nothing")
    assert route.status_code == 404 and route.json()["error"]["type"] == "not_found_error"
    assert gateway.upstream.seen == []


async def test_oversized_body_is_413(make_gateway, upstream) -> None:
    async with make_gateway(max_body_bytes=1000) as gw:
        big = {"model": "chat", "messages": [{"role": "user", "content": "x" * 2000}]}
        response = await gw.client.post("/v1/chat/completions", json=big, headers=gw.auth())
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

        async def chunks():
            yield b'{"model": "chat", "messages": [{"role": "user", "content": "'
            yield b"y" * 2000
            yield b'"}]}'

        # no Content-Length (chunked upload): the limit still holds while reading
        response = await gw.client.post("/v1/chat/completions", content=chunks(), headers=gw.auth())
        assert response.status_code == 413
    assert upstream.seen == []


async def test_an_unexpected_exception_is_an_openai_json_error(gateway, monkeypatch) -> None:
    import httpx

    async def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway.gw.openai, "models", broken)
    transport = httpx.ASGITransport(app=gateway.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/v1/models", headers=gateway.auth())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == {
        "message": "internal error: RuntimeError",
        "type": "server_error",
        "param": None,
        "code": None,
    }


async def test_the_upstream_token_can_come_from_the_environment(
    make_gateway, upstream, monkeypatch
) -> None:
    import pytest

    groups = {
        "chat": {"deployments": [{"api_base": "http://a/v1", "api_key_env": "TEST_INTERNAL_TOKEN"}]}
    }
    monkeypatch.delenv("TEST_INTERNAL_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TEST_INTERNAL_TOKEN is unset"):
        async with make_gateway(model_groups=groups):
            pass
    monkeypatch.setenv("TEST_INTERNAL_TOKEN", "internal-secret")
    async with make_gateway(model_groups=groups) as gw:
        assert (await gw.chat(gw.master)).status_code == 200
    assert upstream.headers[-1]["authorization"] == "Bearer internal-secret"
