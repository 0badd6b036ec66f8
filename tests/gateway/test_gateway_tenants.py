"""Users, teams, roles and the audit log through the admin API (fake upstream, SQLite)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from inferstack.errors import RateLimitError
from inferstack.gateway.db import Team
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.identity import Principal
from inferstack.gateway.key_types import KeyRecord, LimitScope
from inferstack.gateway.limits import KeyLimits, MemoryCounters, RedisCounters
from inferstack.gateway.passwords import hash_password, verify_password


async def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def post(gw: Any, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    return await gw.client.post(path, json=body, headers=gw.auth(key or gw.master))


async def get(gw: Any, path: str, key: str | None = None, **params: Any) -> Any:
    return await gw.client.get(path, params=params, headers=gw.auth(key or gw.master))


async def user_key(gw: Any, user_id: str, role: str = "internal_user", **key: Any) -> str:
    """A user with ``role`` and a key of theirs (made by the admin)."""
    await _ok(await post(gw, "/user/new", {"user_id": user_id, "user_role": role}))
    made = await _ok(await post(gw, "/key/generate", {"user_id": user_id, **key}))
    return str(made["key"])


def test_passwords_are_salted_scrypt_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert stored != hash_password("correct horse")  # salted
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not verify_password("correct horse", None)
    assert not verify_password("correct horse", "garbage")


async def test_user_lifecycle_password_and_pages(gateway) -> None:
    created = await _ok(
        await post(
            gateway,
            "/user/new",
            {
                "user_id": "ann",
                "user_email": "ann@example.com",
                "user_role": "internal_user",
                "password": "s3cret-pass",
                "max_budget": 5,
            },
        )
    )
    assert created["user_role"] == "internal_user" and created["has_password"]
    assert "password" not in created and "password_hash" not in created
    users = gateway.gw.users
    assert (await users.verify_password("ann", "s3cret-pass")).user_id == "ann"
    assert (await users.verify_password("ann@example.com", "s3cret-pass")).user_id == "ann"
    assert await users.verify_password("ann", "wrong-pass") is None
    assert await users.verify_password("nobody", "s3cret-pass") is None

    again = await post(gateway, "/user/new", {"user_id": "ann"})
    assert again.status_code == 400 and again.json()["error"]["param"] == "user_id"
    short = await post(gateway, "/user/new", {"user_id": "bob", "password": "x"})
    assert short.status_code == 400 and short.json()["error"]["param"] == "password"
    bad_role = await post(gateway, "/user/new", {"user_id": "bob", "user_role": "root"})
    assert bad_role.status_code == 400 and bad_role.json()["error"]["param"] == "user_role"

    for name in ("u1", "u2", "u3"):
        await _ok(await post(gateway, "/user/new", {"user_id": name}))
    first = await _ok(await get(gateway, "/user/list", limit=2))
    assert [u["user_id"] for u in first["users"]] == ["ann", "u1"] and first["next_cursor"]
    rest = await _ok(await get(gateway, "/user/list", limit=2, cursor=first["next_cursor"]))
    assert [u["user_id"] for u in rest["users"]] == ["u2", "u3"] and rest["next_cursor"] is None
    bad = await get(gateway, "/user/list", cursor="!!")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "cursor"

    await _ok(await post(gateway, "/user/update", {"user_id": "ann", "password": "new-pass-1"}))
    assert await users.verify_password("ann", "s3cret-pass") is None
    assert (await users.verify_password("ann", "new-pass-1")).user_id == "ann"
    info = await _ok(await get(gateway, "/user/info", user_id="ann"))
    assert info["user_info"]["max_budget"] == 5 and info["keys"] == []
    missing = await get(gateway, "/user/info", user_id="zed")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "user_id"

    key = (await _ok(await post(gateway, "/key/generate", {"user_id": "u1"})))["key"]
    assert (await gateway.chat(key)).status_code == 200
    await _ok(await post(gateway, "/user/delete", {"user_ids": ["u1"]}))
    assert (await gateway.chat(key)).status_code == 401  # the user's keys are revoked


async def test_roles_decide_what_a_user_may_do(gateway) -> None:
    viewer = await user_key(gateway, "vic", role="proxy_admin_viewer")
    ann = await user_key(gateway, "ann")
    bob = await user_key(gateway, "bob")
    boss = await user_key(gateway, "boss", role="proxy_admin")
    reader = await user_key(gateway, "rita", role="internal_user_viewer")

    # an admin user may do what the master key does
    await _ok(await post(gateway, "/user/new", {"user_id": "carl"}, key=boss))
    # viewers read everything and change nothing
    assert (await get(gateway, "/user/list", key=viewer)).status_code == 200
    assert (await get(gateway, "/key/list", key=viewer)).json()["keys"]
    denied = await post(gateway, "/user/new", {"user_id": "dan"}, key=viewer)
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_error"
    assert (await post(gateway, "/key/generate", {}, key=viewer)).status_code == 403
    # internal users: their own keys only
    own = await _ok(await post(gateway, "/key/generate", {"alias": "mine"}, key=ann))
    assert own["user_id"] == "ann"
    other = await post(gateway, "/key/generate", {"user_id": "bob"}, key=ann)
    assert other.status_code == 403 and other.json()["error"]["param"] == "user_id"
    listed = await _ok(await get(gateway, "/key/list", key=ann))
    assert {k["user_id"] for k in listed["keys"]} == {"ann"} and len(listed["keys"]) == 2
    bobs = (await _ok(await get(gateway, "/key/list", key=bob)))["keys"][0]["key_id"]
    assert (await get(gateway, "/key/info", key=ann, key_id=bobs)).status_code == 403
    assert (await post(gateway, "/key/delete", {"key_ids": [bobs]}, key=ann)).status_code == 403
    assert (
        await post(gateway, "/key/delete", {"key_ids": [own["key_id"]]}, key=ann)
    ).status_code == 200
    assert (await get(gateway, "/user/list", key=ann)).status_code == 403
    assert (await get(gateway, "/user/info", key=ann)).json()["user_id"] == "ann"
    assert (await get(gateway, "/user/info", key=ann, user_id="bob")).status_code == 403
    # internal_user_viewer: reads own usage, makes no keys
    assert (await post(gateway, "/key/generate", {}, key=reader)).status_code == 403
    # nobody but an admin moves a key
    moved = await post(gateway, "/key/update", {"key_id": bobs, "user_id": "ann"}, key=bob)
    assert moved.status_code == 403 and moved.json()["error"]["param"] == "user_id"


async def test_team_admin_manages_only_their_team(gateway) -> None:
    lead = await user_key(gateway, "lead")
    member = await user_key(gateway, "mia")
    await user_key(gateway, "otto")
    red = await _ok(
        await post(
            gateway,
            "/team/new",
            {
                "team_id": "red",
                "team_alias": "Red",
                "models": ["chat"],
                "max_budget": 10,
                "rpm_limit": 100,
                "members_with_roles": [
                    {"user_id": "lead", "role": "admin"},
                    {"user_id": "mia", "role": "user"},
                ],
            },
        )
    )
    assert red["members_with_roles"] == [
        {"user_id": "lead", "role": "admin"},
        {"user_id": "mia", "role": "user"},
    ]
    await _ok(await post(gateway, "/team/new", {"team_id": "blue"}))
    unknown = await post(
        gateway, "/team/new", {"team_id": "x", "members_with_roles": [{"user_id": "nope"}]}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "members_with_roles"

    # the team admin adds members and makes keys in their team
    await _ok(
        await post(
            gateway, "/team/member_add", {"team_id": "red", "member": {"user_id": "otto"}}, key=lead
        )
    )
    made = await _ok(
        await post(gateway, "/key/generate", {"team_id": "red", "user_id": "otto"}, key=lead)
    )
    assert made["team_id"] == "red"
    outside = await post(
        gateway, "/key/generate", {"team_id": "red", "models": ["embed"]}, key=lead
    )
    assert outside.status_code == 400 and outside.json()["error"]["param"] == "models"
    # ... but cannot touch another team, nor change their own team's limits
    for path, body in (
        ("/team/member_add", {"team_id": "blue", "member": {"user_id": "otto"}}),
        ("/team/member_delete", {"team_id": "blue", "user_id": "otto"}),
        ("/team/update", {"team_id": "red", "max_budget": 1000}),
        ("/team/delete", {"team_ids": ["blue"]}),
        ("/key/generate", {"team_id": "blue"}),
    ):
        response = await post(gateway, path, body, key=lead)
        assert response.status_code == 403, (path, response.text)
    assert (await get(gateway, "/team/info", key=lead, team_id="blue")).status_code == 403
    # a plain member reads the team but manages nothing
    info = await _ok(await get(gateway, "/team/info", key=member, team_id="red"))
    assert info["team_info"]["team_alias"] == "Red" and info["keys"][0]["key_id"] == made["key_id"]
    assert [t["team_id"] for t in await _ok(await get(gateway, "/team/list", key=member))] == [
        "red"
    ]
    assert len(await _ok(await get(gateway, "/team/list"))) == 2
    kick = await post(
        gateway, "/team/member_delete", {"team_id": "red", "user_id": "otto"}, key=member
    )
    assert kick.status_code == 403
    # the team admin sees the team's keys, and revokes them
    listed = await _ok(await get(gateway, "/key/list", key=lead))
    assert made["key_id"] in {k["key_id"] for k in listed["keys"]}
    await _ok(await post(gateway, "/key/delete", {"key_ids": [made["key_id"]]}, key=lead))
    await _ok(
        await post(gateway, "/team/member_delete", {"team_id": "red", "user_id": "otto"}, key=lead)
    )
    gone = await post(gateway, "/team/member_delete", {"team_id": "red", "user_id": "otto"})
    assert gone.status_code == 404 and gone.json()["error"]["param"] == "user_id"

    team_key = (await _ok(await post(gateway, "/key/generate", {"team_id": "blue"})))["key"]
    assert (await gateway.chat(team_key)).status_code == 200
    await _ok(await post(gateway, "/team/delete", {"team_ids": ["blue"]}))
    assert (await gateway.chat(team_key)).status_code == 401
    assert (await get(gateway, "/team/info", team_id="blue")).status_code == 404


async def test_team_limits_bind_every_key_of_the_team(gateway) -> None:
    await _ok(
        await post(gateway, "/team/new", {"team_id": "t", "models": ["chat"], "rpm_limit": 3})
    )
    one = (await _ok(await post(gateway, "/key/generate", {"team_id": "t"})))["key"]
    two = (await _ok(await post(gateway, "/key/generate", {"team_id": "t", "rpm_limit": 50})))[
        "key"
    ]
    # a model outside the team's is refused even though the key names none (it still counts
    # as one of the team's requests: RPM is checked before the body is read)
    response = await gateway.client.post(
        "/v1/chat/completions",
        json={"model": "backup", "messages": [{"role": "user", "content": "hi"}]},
        headers=gateway.auth(one),
    )
    assert response.status_code == 403 and response.json()["error"]["param"] == "model"
    codes = [(await gateway.chat(k)).status_code for k in (one, two, one, two)]
    assert codes == [200, 200, 429, 429]  # three a minute for the whole team
    refused = await gateway.chat(two)
    assert "team 't'" in refused.json()["error"]["message"]


_BODY = b'{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'
_COST = 7 * 1e-6 + 3 * 2e-6  # what the fake upstream's answer costs (7 + 3 tokens)
_WORST = len(_BODY) * 1e-6 + 5 * 2e-6  # what admission reserves: every byte a token, max_tokens


async def raw_chat(gw: Any, key: str) -> int:
    headers = gw.auth(key) | {"content-type": "application/json"}
    return (
        await gw.client.post("/v1/chat/completions", content=_BODY, headers=headers)
    ).status_code


async def test_team_budget_is_spent_by_all_its_keys(gateway) -> None:
    # room for two calls' real cost plus a third one's worst case, not for a third call
    budget = _WORST + 1.5 * _COST
    await _ok(await post(gateway, "/team/new", {"team_id": "t", "max_budget": budget}))
    keys = [
        (await _ok(await post(gateway, "/key/generate", {"team_id": "t"})))["key"] for _ in range(2)
    ]
    codes = [await raw_chat(gateway, keys[i % 2]) for i in range(4)]
    assert codes == [200, 200, 429, 429]
    await gateway.gw.recorder.flush()
    info = await _ok(await get(gateway, "/team/info", team_id="t"))
    assert info["team_info"]["spend"] == pytest.approx(2 * _COST)
    spent = [k["spend"] for k in info["keys"]]
    assert spent == [pytest.approx(_COST), pytest.approx(_COST)]


async def test_user_budget_counts_every_key_of_the_user(gateway) -> None:
    budget = _WORST + 0.5 * _COST
    await _ok(await post(gateway, "/user/new", {"user_id": "u", "max_budget": budget}))
    keys = [
        (await _ok(await post(gateway, "/key/generate", {"user_id": "u"})))["key"] for _ in range(2)
    ]
    assert await raw_chat(gateway, keys[0]) == 200
    headers = gateway.auth(keys[1]) | {"content-type": "application/json"}
    second = await gateway.client.post("/v1/chat/completions", content=_BODY, headers=headers)
    assert second.status_code == 429 and "user 'u'" in second.json()["error"]["message"]


async def test_org_limits_cap_every_key(make_gateway) -> None:
    async with make_gateway(org_limits={"rpm_limit": 2}) as gw:
        key = await gw.new_key(rpm_limit=100)
        codes = [(await gw.chat(key)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


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


async def test_concurrent_keys_of_a_team_never_overspend_its_budget(counters) -> None:
    """40 requests at once on two keys of one team: the team's budget lease is atomic."""
    limits = KeyLimits(counters, clock=lambda: 900.0)

    def key(key_id: str) -> KeyRecord:
        team = LimitScope(kind="team", id="t", max_budget=3.5, tpm_limit=100_000)
        return KeyRecord(key_id=key_id, scopes=[team])

    async def one(record: KeyRecord) -> bool:
        admission = await limits.admit(record)
        try:
            await limits.reserve(record, admission, 100, 1.0, 0.0, {"team:t": 0.0})
        except RateLimitError:
            await limits.settle(record, admission, 0, 0.0)
            return False
        return True

    records = [key("ka"), key("kb")]
    admitted = await asyncio.gather(*(one(records[i % 2]) for i in range(40)))
    assert admitted.count(True) == 3  # 3 x $1 of $3.5, whichever key asked
    assert await counters.held("budget:team:t") == pytest.approx(3.0)
    assert await counters.get(f"tpm:team:t:{900 // 60}") == 300


async def test_audit_log_records_every_admin_action(gateway) -> None:
    viewer = await user_key(gateway, "vic", role="proxy_admin_viewer")
    ann = await user_key(gateway, "ann")
    await _ok(await post(gateway, "/team/new", {"team_id": "t"}))
    await _ok(await post(gateway, "/team/update", {"team_id": "t", "max_budget": 3}))
    page = await _ok(await get(gateway, "/audit", key=viewer, limit=2))
    assert [e["action"] for e in page["data"]] == ["team.update", "team.new"]
    update = page["data"][0]
    assert update["actor"] == "master" and update["target_id"] == "t"
    assert update["before"]["max_budget"] is None and update["after"]["max_budget"] == 3
    rest = await _ok(await get(gateway, "/audit", key=viewer, cursor=page["next_cursor"]))
    actions = [e["action"] for e in rest["data"]]
    assert actions == ["key.generate", "user.new", "key.generate", "user.new"]
    assert rest["next_cursor"] is None
    assert (await get(gateway, "/audit", key=ann)).status_code == 403
    await _ok(await post(gateway, "/key/generate", {"alias": "by-ann"}, key=ann))
    latest = (await _ok(await get(gateway, "/audit", limit=1)))["data"][0]
    assert latest["actor"] == "user:ann" and latest["after"]["alias"] == "by-ann"


async def test_a_console_session_is_a_principal(gateway) -> None:
    """The console registers ``Gateway.sessions``; without a bearer key it decides who calls."""
    await _ok(await post(gateway, "/user/new", {"user_id": "ann", "password": "pass-word-1"}))
    assert (await gateway.client.get("/user/info")).status_code == 401

    async def lookup(request: Any) -> Principal | None:
        if request.headers.get("cookie") != "session=ann":
            return None
        return await gateway.gw.users.principal_of_user("ann")

    gateway.gw.sessions = lookup
    me = await gateway.client.get("/user/info", headers={"cookie": "session=ann"})
    assert me.status_code == 200 and me.json()["user_id"] == "ann"
    made = await gateway.client.post("/key/generate", json={}, headers={"cookie": "session=ann"})
    assert made.status_code == 200 and made.json()["user_id"] == "ann"
    assert (
        await gateway.client.get("/user/list", headers={"cookie": "session=ann"})
    ).status_code == 403
    assert (await gateway.client.get("/user/info")).status_code == 401


async def test_concurrent_requests_on_one_team_never_overspend_it(make_gateway, upstream) -> None:
    """20 requests at once on three keys of one team, all in flight together (the upstream
    holds every answer until the last request was admitted or refused): exactly the three
    worst cases that fit in the team's budget are admitted."""
    gate, arrived = asyncio.Event(), asyncio.Event()
    waiting = 0
    answer = upstream.handle

    async def held(request: Any) -> Any:
        nonlocal waiting
        waiting += 1
        arrived.set()
        await gate.wait()
        return await answer(request)

    upstream.handle = held  # type: ignore[method-assign]
    budget = 3 * _WORST + 0.5 * _COST  # room for three worst cases at once, not four
    async with make_gateway() as gw:
        await _ok(await post(gw, "/team/new", {"team_id": "t", "max_budget": budget}))
        keys = [
            (await _ok(await post(gw, "/key/generate", {"team_id": "t"})))["key"] for _ in range(3)
        ]
        calls = [asyncio.ensure_future(raw_chat(gw, keys[i % 3])) for i in range(20)]

        async def all_settled_or_waiting() -> None:
            while waiting + sum(c.done() for c in calls) < len(calls):
                arrived.clear()
                signal = asyncio.ensure_future(arrived.wait())
                pending = [c for c in calls if not c.done()]
                await asyncio.wait([signal, *pending], return_when=asyncio.FIRST_COMPLETED)
                signal.cancel()

        await asyncio.wait_for(all_settled_or_waiting(), 10)
        gate.set()
        codes = await asyncio.gather(*calls)
        assert codes.count(200) == 3 and codes.count(429) == 17
        await gw.gw.recorder.flush()
        info = await _ok(await get(gw, "/team/info", team_id="t"))
        assert info["team_info"]["spend"] == pytest.approx(3 * _COST)


_WRITES = [
    ("/team/new", {"team_id": "x"}),
    ("/team/update", {"team_id": "t", "max_budget": 1}),
    ("/team/delete", {"team_ids": ["t"]}),
    ("/team/member_add", {"team_id": "t", "member": {"user_id": "ann"}}),
    ("/team/member_delete", {"team_id": "t", "user_id": "ann"}),
    ("/user/new", {"user_id": "x"}),
    ("/user/update", {"user_id": "ann", "max_budget": 1}),
    ("/user/delete", {"user_ids": ["ann"]}),
    ("/model/new", {"model_name": "m", "litellm_params": {"api_base": "http://h/v1"}}),
    ("/model/update", {"model_id": "a"}),
    ("/model/delete", {"id": "a"}),
]
_READS_ALL = ["/user/list", "/audit", "/model/info", "/spend/keys", "/spend/summary", "/spend/logs"]


async def test_every_admin_route_refuses_roles_below_it(gateway) -> None:
    """Each mutating admin route and each role that may not use it: 403, and nothing changes."""
    await _ok(await post(gateway, "/team/new", {"team_id": "t"}))
    callers = {
        "viewer": await user_key(gateway, "vic", role="proxy_admin_viewer"),
        "internal": await user_key(gateway, "ann"),
        "internal_viewer": await user_key(gateway, "rita", role="internal_user_viewer"),
        "bare key": await gateway.new_key(),
    }
    before = (await _ok(await get(gateway, "/audit", limit=1)))["data"][0]["id"]
    for role, key in callers.items():
        for path, body in _WRITES:
            response = await post(gateway, path, body, key=key)
            assert response.status_code == 403, (role, path, response.text)
            assert response.json()["error"]["type"] == "permission_error"
        for path in _READS_ALL:
            response = await get(gateway, path, key=key)
            expected = 200 if role == "viewer" else 403
            assert response.status_code == expected, (role, path, response.text)
    assert (await _ok(await get(gateway, "/audit", limit=1)))["data"][0]["id"] == before
    for path, _ in _WRITES:
        assert (await gateway.client.post(path, json={})).status_code == 401


async def test_a_team_budget_resets_after_its_duration(gateway) -> None:
    budget = _WORST + 0.5 * _COST  # one call
    await _ok(
        await post(
            gateway, "/team/new", {"team_id": "t", "max_budget": budget, "budget_duration": "1h"}
        )
    )
    key = (await _ok(await post(gateway, "/key/generate", {"team_id": "t"})))["key"]
    assert [await raw_chat(gateway, key) for _ in range(2)] == [200, 429]
    await gateway.gw.recorder.flush()
    async with gateway.gw.db.session() as session:  # the hour has passed
        await session.execute(update(Team).values(budget_reset_at=utcnow()))
        await session.commit()
    assert await raw_chat(gateway, key) == 200
    await gateway.gw.recorder.flush()
    info = await _ok(await get(gateway, "/team/info", team_id="t"))
    assert info["team_info"]["spend"] == pytest.approx(_COST)  # only the call after the reset
    assert info["team_info"]["budget_reset_at"] > utcnow().isoformat()
