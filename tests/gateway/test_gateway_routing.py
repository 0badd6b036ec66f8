"""Routing strategies, deployment caps, health checks, cache and the PII guardrail."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from inferstack.gateway.deployments import DeploymentPool
from inferstack.gateway.guardrail import PiiGuardrail, luhn_valid
from inferstack.gateway.routing import LeastOutstanding, LowestLatency, WeightedRandom
from inferstack.gateway.settings import GatewaySettings, GuardrailSettings


def pool(tmp_path, **router) -> DeploymentPool:
    deployments = [
        {"api_base": "http://a/v1", "name": "a", "weight": 3},
        {"api_base": "http://b/v1", "name": "b", "weight": 1},
    ]
    settings = GatewaySettings(
        state_dir=tmp_path, model_groups={"m": {"deployments": deployments}}, router=router
    )
    return DeploymentPool(settings)


def test_weighted_random_follows_the_weights(tmp_path) -> None:
    deps = pool(tmp_path).groups["m"]
    strategy = WeightedRandom(random.Random(1))
    picks = Counter(strategy.choose(deps).id for _ in range(4000))
    assert 0.70 < picks["a"] / 4000 < 0.80


def test_least_outstanding_picks_the_idlest(tmp_path) -> None:
    p = pool(tmp_path)
    a, b = p.groups["m"]
    p.started(a)
    p.started(a)
    p.started(b)
    assert LeastOutstanding(random.Random(0)).choose([a, b]) is b
    p.finished(a)
    p.finished(a)
    assert LeastOutstanding(random.Random(0)).choose([a, b]) is a


def test_lowest_latency_measures_each_then_prefers_the_fastest(tmp_path) -> None:
    p = pool(tmp_path)
    a, b = p.groups["m"]
    strategy = LowestLatency(random.Random(0))
    p.succeeded(a, 0.5)
    assert strategy.choose([a, b]) is b  # b has not been measured yet
    p.succeeded(b, 0.1)
    assert strategy.choose([a, b]) is b
    for _ in range(10):
        p.succeeded(b, 2.0)
    assert strategy.choose([a, b]) is a


def test_cooldown_after_allowed_fails(tmp_path) -> None:
    now = [100.0]
    settings = GatewaySettings(
        state_dir=tmp_path,
        model_groups={"m": {"deployments": [{"api_base": "http://a/v1"}]}},
        router={"allowed_fails": 2, "cooldown_s": 10},
    )
    p = DeploymentPool(settings, clock=lambda: now[0])
    (a,) = p.groups["m"]
    p.failed(a)
    assert p.candidates("m") == [a]
    p.failed(a)
    assert p.candidates("m") == []
    now[0] += 10.5
    assert p.candidates("m") == [a]


async def test_deployment_rpm_cap_routes_around_then_429s(make_gateway, upstream) -> None:
    groups = {
        "chat": {
            "deployments": [
                {"api_base": "http://a/v1", "name": "a", "rpm": 1},
                {"api_base": "http://b/v1", "name": "b", "rpm": 1},
            ]
        }
    }
    async with make_gateway(model_groups=groups) as gw:
        assert (await gw.chat(gw.master)).status_code == 200
        assert (await gw.chat(gw.master)).status_code == 200
        third = await gw.chat(gw.master)
    assert sorted(host for host, _ in upstream.seen) == ["a", "b"]
    assert third.status_code == 429 and "capacity" in third.json()["error"]["message"]
    assert "retry-after" in third.headers


async def test_health_checks_take_a_dead_deployment_out_and_back(gateway) -> None:
    gateway.upstream.down = {"a"}
    assert await gateway.gw.health.check_once() == {"a": False, "b": True, "c": True, "e": True}
    for _ in range(4):
        assert (await gateway.chat(gateway.master)).status_code == 200
    assert {host for host, _ in gateway.upstream.seen} == {"b"}
    ready = await gateway.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["deployments"]["chat"] == 1
    gateway.upstream.down = {"a", "b"}
    await gateway.gw.health.check_once()
    ready = await gateway.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["deployments"]["chat"] == 0
    gateway.upstream.down = set()
    await gateway.gw.health.check_once()
    assert (await gateway.client.get("/ready")).status_code == 200


async def test_health_and_metrics(gateway) -> None:
    assert (await gateway.client.get("/health")).json() == {"status": "ok"}
    await gateway.chat(gateway.master)
    gateway.upstream.fail = {"a": ["connect"] * 2, "b": ["connect"] * 2}  # all 3 attempts fail
    await gateway.chat(gateway.master)
    text = (await gateway.client.get("/metrics")).text
    labels = 'endpoint="/chat/completions",model_group="chat",status="200"'
    assert f"inferstack_gateway_requests_total{{{labels}}} 1.0" in text
    assert 'inferstack_gateway_tokens_total{kind="prompt",model_group="chat"} 7.0' in text
    assert "inferstack_gateway_overhead_seconds_count" in text
    assert 'kind="connection"' in text and "inferstack_gateway_spend_usd_total" in text


async def test_exact_cache_answers_repeated_deterministic_requests(make_gateway, upstream) -> None:
    async with make_gateway(cache={"enabled": True}) as gw:
        first = await gw.chat(gw.master, temperature=0)
        second = await gw.chat(gw.master, temperature=0)
        assert second.json() == first.json()
        assert second.headers["x-inferstack-cache"] == "hit"
        await gw.chat(gw.master, temperature=0.7)
        await gw.chat(gw.master, temperature=0.7)
        assert len(upstream.seen) == 3  # random sampling is never cached
        await gw.gw.recorder.flush()
        logs = await gw.gw.reports.logs()
        assert [log["cache_hit"] for log in reversed(logs)] == [False, True, False, False]


def test_pii_patterns() -> None:
    guard = PiiGuardrail(GuardrailSettings(enabled=True, mode="redact"))
    text, found = guard.redact(
        "mail jane.doe@example.com or call +1 415-555-0134; card 4111 1111 1111 1111; "
        "ssn 123-45-6789; order 1234 5678 9012 3456 is not a card"
    )
    assert found == {"email", "phone", "card", "ssn"}
    assert "jane.doe" not in text and "4111" not in text and "123-45-6789" not in text
    assert "[REDACTED_EMAIL]" in text and "1234 5678 9012 3456" in text
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert guard.redact("version 1.2.3 at 10:30, 42 items") == (
        "version 1.2.3 at 10:30, 42 items",
        set(),
    )


@pytest.mark.parametrize("mode", ["block", "redact"])
async def test_guardrail_blocks_or_redacts_input(make_gateway, upstream, mode) -> None:
    async with make_gateway(guardrail={"enabled": True, "mode": mode}) as gw:
        messages = [{"role": "user", "content": [{"type": "text", "text": "I am bob@corp.io"}]}]
        response = await gw.chat(gw.master, messages=messages)
        clean = await gw.chat(gw.master)
    assert clean.status_code == 200
    if mode == "block":
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "pii_detected"
        assert "bob@corp.io" not in response.text
        assert len(upstream.seen) == 1
    else:
        assert response.status_code == 200
        assert upstream.seen[0][1]["messages"][0]["content"][0]["text"] == "I am [REDACTED_EMAIL]"


async def test_guardrail_redacts_output_in_streams_and_responses(make_gateway, upstream) -> None:
    upstream.words = ["write to ", "ann@example.org", " today"]
    guard = {"enabled": True, "mode": "redact", "on_input": False, "on_output": True}
    async with make_gateway(guardrail=guard) as gw:
        plain = await gw.chat(gw.master)
        streamed = await gw.chat(gw.master, stream=True)
    assert plain.json()["choices"][0]["message"]["content"] == "write to [REDACTED_EMAIL] today"
    assert "ann@example.org" not in streamed.text and "[REDACTED_EMAIL]" in streamed.text


def test_guardrail_is_off_by_default() -> None:
    settings = GatewaySettings()
    assert not settings.guardrail.enabled and not settings.cache.enabled
