"""Key limits (RPM, TPM, parallel) in process and in a real Redis shared by two gateways."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from inferstack.errors import RateLimitError
from inferstack.gateway.key_types import KeyRecord, LimitScope
from inferstack.gateway.limits import KeyLimits, MemoryCounters, RedisCounters
from support.servers import free_port
from support.services import wait_until


@pytest.fixture(params=["memory", "redis"])
async def counters(request):
    if request.param == "memory":
        yield MemoryCounters()
        return
    from redis.asyncio import Redis

    server = request.getfixturevalue("redis_server")
    client = Redis.from_url(server.url)
    await client.flushdb()
    backend = RedisCounters(client)
    yield backend
    await backend.close()


def at(t: float):
    return lambda: t


async def test_rpm_limit_per_minute_window(counters) -> None:
    limits = KeyLimits(counters, clock=at(120.0 * 60 + 15))
    key = KeyRecord(key_id="k1", rpm_limit=2)
    for _ in range(2):
        await limits.admit(key)
    with pytest.raises(RateLimitError) as refused:
        await limits.admit(key)
    assert refused.value.headers["Retry-After"] == "45"
    await KeyLimits(counters, clock=at(121.0 * 60)).admit(key)  # the next minute


async def test_tpm_limit_reserves_then_settles_each_request(counters) -> None:
    limits = KeyLimits(counters, clock=at(600.0))
    key = KeyRecord(key_id="k2", tpm_limit=100)
    for _ in range(2):
        admission = await limits.admit(key)
        await limits.reserve(key, admission, 40, 0.0, 0.0)
        await limits.settle(key, admission, 60, 0.0)  # used more than its bound: counted
    assert await counters.get(f"tpm:k2:{600 // 60}") == 120
    with pytest.raises(RateLimitError, match="token limit"):
        await limits.admit(key)


async def test_parallel_limit_frees_slots(counters) -> None:
    limits = KeyLimits(counters)
    key = KeyRecord(key_id="k3", max_parallel_requests=2)
    first, second = await limits.admit(key), await limits.admit(key)
    assert first.parallel and second.parallel
    with pytest.raises(RateLimitError, match="parallel"):
        await limits.admit(key)
    await limits.settle(key, first, 0, 0.0)
    assert (await limits.admit(key)).parallel
    master = KeyRecord(key_id=None, is_master=True)
    assert not (await limits.admit(master)).parallel


async def test_only_a_call_holding_something_has_anything_to_settle(counters) -> None:
    # Settlement skips the limits task for a call that holds nothing: every limit that makes
    # settle() correct or give back something must make holds() true.
    limits = KeyLimits(counters)
    free = KeyRecord(key_id="k-free")
    admission = await limits.admit(free)
    await limits.reserve(free, admission, 40, 0.01, 0.0)
    assert not KeyLimits.holds(free, admission)
    assert not KeyLimits.holds(KeyRecord(key_id=None, is_master=True), admission)
    parallel = KeyRecord(key_id="k-par", max_parallel_requests=1)
    held = await limits.admit(parallel)
    assert KeyLimits.holds(parallel, held)
    await limits.settle(parallel, held, 0, 0.0)
    assert not KeyLimits.holds(parallel, held)  # the slot is given back
    assert (await limits.admit(parallel)).parallel
    tpm = KeyRecord(key_id="k-tpm", tpm_limit=100)
    assert KeyLimits.holds(tpm, await limits.admit(tpm))
    budget = KeyRecord(key_id="k-budget", max_budget=1.0)
    leased = await limits.admit(budget)
    await limits.reserve(budget, leased, 40, 0.01, 0.0)
    assert leased.budget and KeyLimits.holds(budget, leased)
    team = LimitScope(kind="team", id="t1", tpm_limit=100)
    scoped = KeyRecord(key_id="k-team", scopes=[team])
    assert KeyLimits.holds(scoped, await limits.admit(scoped))


async def test_concurrent_reservations_never_pass_the_limits(counters) -> None:
    """50 requests at once: reservations are atomic, so only what fits is admitted."""
    limits = KeyLimits(counters, clock=at(900.0))
    key = KeyRecord(key_id="k4", tpm_limit=300, max_budget=5.5)

    async def one() -> bool:
        admission = await limits.admit(key)
        try:
            await limits.reserve(key, admission, 55, 1.0, 0.0)
        except RateLimitError:
            await limits.settle(key, admission, 0, 0.0)
            return False
        return True

    admitted = await asyncio.gather(*(one() for _ in range(50)))
    assert admitted.count(True) == 5  # 5 x $1 of $5.5; 5 x 55 of 300 tokens
    assert await counters.get(f"tpm:k4:{900 // 60}") == 5 * 55
    assert await counters.held("budget:k4") == pytest.approx(5.0)


async def test_a_lost_parallel_slot_expires_although_new_requests_keep_coming(counters) -> None:
    limits = KeyLimits(counters, lease_ttl_s=0.5)
    key = KeyRecord(key_id="k5", max_parallel_requests=1)
    await limits.admit(key)  # its release is lost: the replica holding it was killed
    refused = 0
    deadline = time.monotonic() + 10
    while True:
        try:
            admission = await limits.admit(key)
            break
        except RateLimitError:
            refused += 1  # each refused request must not extend the lost slot's life
            assert time.monotonic() < deadline, "the lost slot never expired"
            await asyncio.sleep(0.05)
    assert refused > 0 and admission.parallel
    await limits.settle(key, admission, 0, 0.0)
    assert await counters.held("parallel:k5") == 0


async def test_rpm_limit_through_the_gateway(gateway) -> None:
    key = await gateway.new_key(rpm_limit=2)
    assert [(await gateway.chat(key)).status_code for _ in range(3)] == [200, 200, 429]
    refused = await gateway.chat(key)
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "2 requests per minute" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert (await gateway.chat(gateway.master)).status_code == 200


async def test_parallel_slot_is_released_after_streams_and_errors(gateway) -> None:
    key = await gateway.new_key(max_parallel_requests=1)
    assert (await gateway.chat(key, stream=True)).status_code == 200
    gateway.upstream.fail = {"a": [400], "b": [400]}
    assert (await gateway.chat(key)).status_code == 400
    gateway.upstream.fail = {}
    assert (await gateway.chat(key)).status_code == 200
    bad = await gateway.client.post("/v1/chat/completions", content=b"{", headers=gateway.auth(key))
    assert bad.status_code == 400  # refused after admission: the slot comes back too
    assert await gateway.gw.counters.held(f"parallel:{(await _key_id(gateway, key))}") == 0


async def _key_id(gateway, key: str) -> str:
    info = await gateway.client.get("/key/info", headers=gateway.auth(key))
    return str(info.json()["key_id"])


def _start(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_gateway_processes_share_limits_through_redis(tmp_path, redis_server) -> None:
    """Two real `inferstack gateway` processes, one Redis, one SQLite file, one key."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    up_port = free_port()
    procs = [
        _start(
            [sys.executable, str(Path(__file__).with_name("fake_openai_server.py")), str(up_port)],
            tmp_path / "upstream.log",
            env,
        )
    ]
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{up_port}/v1/models"), 30, "fake upstream")
        config = tmp_path / "gateway.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "model_groups": {
                        "chat": {
                            "deployments": [
                                {"api_base": f"http://127.0.0.1:{up_port}/v1", "model": "fake"}
                            ]
                        }
                    },
                    "redis_url": redis_server.url,
                    "key_cache_ttl_s": 0,
                }
            )
        )
        urls = []
        for name in ("a", "b"):
            port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "inferstack.cli.main",
                "gateway",
                "--config",
                str(config),
                "--port",
                str(port),
                "--state-dir",
                str(tmp_path / "state"),
            ]
            procs.append(_start(cmd, tmp_path / f"gateway-{name}.log", env))
            url = f"http://127.0.0.1:{port}"
            # one after the other: the first creates the master key and migrates the database
            wait_until(lambda url=url: _ready(f"{url}/health"), 60, f"gateway {name}")
            urls.append(url)
        master = (tmp_path / "state" / "master_key").read_text().strip()
        first_log = (tmp_path / "gateway-a.log").read_text()
        assert "generated a gateway master key in" in first_log
        assert master not in first_log  # a log is not a terminal: the key is never written
        assert "master key" not in (tmp_path / "gateway-b.log").read_text()
        keys_cli = [
            sys.executable,
            "-m",
            "inferstack.cli.main",
            "keys",
            "--url",
            urls[0],
            "--master-key-file",
            str(tmp_path / "state" / "master_key"),
        ]
        created = subprocess.run(
            [*keys_cli, "create", "--rpm", "3", "--alias", "shared"],
            capture_output=True,
            check=True,
            timeout=60,
            env=env,
        )
        key = json.loads(created.stdout)["key"]
        listed = subprocess.run(
            [*keys_cli, "list"], capture_output=True, check=True, timeout=60, env=env
        )
        assert [k["alias"] for k in json.loads(listed.stdout)["keys"]] == ["shared"]
        # all five requests must fall in one fixed minute window of the RPM limit
        wait_until(lambda: time.time() % 60 < 50, 15, "the start of a minute window")
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        statuses = [
            httpx.post(
                f"{url}/v1/chat/completions",
                json=body,
                timeout=10,
                headers={"Authorization": f"Bearer {key}"},
            ).status_code
            for url in (urls[0], urls[1], urls[0], urls[1], urls[0])
        ]
        assert statuses == [200, 200, 200, 429, 429]

        # a team's limit binds its keys on every replica
        admin = {"Authorization": f"Bearer {master}"}
        team = {"team_id": "t", "rpm_limit": 2}
        assert httpx.post(f"{urls[1]}/team/new", json=team, headers=admin).status_code == 200
        team_keys = [
            httpx.post(f"{urls[i]}/key/generate", json={"team_id": "t"}, headers=admin).json()[
                "key"
            ]
            for i in (0, 1)
        ]
        wait_until(lambda: time.time() % 60 < 50, 15, "the start of a minute window")
        statuses = [
            httpx.post(
                f"{url}/v1/chat/completions",
                json=body,
                timeout=10,
                headers={"Authorization": f"Bearer {team_key}"},
            ).status_code
            for url, team_key in zip(urls + urls[:1], team_keys + team_keys[:1], strict=True)
        ]
        assert statuses == [200, 200, 429]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
