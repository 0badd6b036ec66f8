"""Usage rollups kept with the spend logs, /usage/* read from them, and paginated /spend/logs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from inferstack.gateway.db import SpendLog, UsageRollup
from inferstack.gateway.rollups import floor_to
from inferstack.gateway.usage import Usage, UsageEntry, UsageRecorder
from inferstack.gateway.usage_reports import spans


async def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def _setup(gw: Any) -> dict[str, str]:
    """Team ``t`` (admin ``lead``), users ``ann`` and ``bob`` with keys; traffic on them."""
    admin = gw.auth()
    for user in ("ann", "bob", "lead"):
        await _ok(await gw.client.post("/user/new", json={"user_id": user}, headers=admin))
    await _ok(
        await gw.client.post(
            "/team/new",
            json={"team_id": "t", "members_with_roles": [{"user_id": "lead", "role": "admin"}]},
            headers=admin,
        )
    )
    keys = {}
    for name, body in (
        ("ann", {"user_id": "ann", "team_id": "t"}),
        ("bob", {"user_id": "bob"}),
        ("lead", {"user_id": "lead"}),
    ):
        made = await _ok(await gw.client.post("/key/generate", json=body, headers=admin))
        keys[name], keys[name + "_id"] = made["key"], made["key_id"]
    for name, count in (("ann", 3), ("bob", 2)):
        for _ in range(count):
            assert (await gw.chat(keys[name])).status_code == 200
    embed = {"model": "embed", "input": "x"}
    assert (
        await gw.client.post("/v1/embeddings", json=embed, headers=gw.auth(keys["ann"]))
    ).status_code == 200
    await gw.gw.recorder.flush()
    return keys


async def test_usage_rollups_answer_every_grouping(gateway) -> None:
    keys = await _setup(gateway)
    admin = gateway.auth()
    top = await _ok(
        await gateway.client.get("/usage/top", params={"group_by": "user"}, headers=admin)
    )
    by_user = {row["group"]: row for row in top["data"]}
    assert by_user["ann"]["requests"] == 4 and by_user["bob"]["requests"] == 2
    assert by_user["ann"]["tokens"] == 3 * 10 + 3  # chats: 7 + 3 tokens; the embedding: 3
    assert by_user["bob"]["cost"] == pytest.approx(2 * (7e-6 + 6e-6))
    models = await _ok(
        await gateway.client.get(
            "/usage/top", params={"group_by": "model", "team_id": "t"}, headers=admin
        )
    )
    assert {r["group"]: r["requests"] for r in models["data"]} == {"chat": 3, "embed": 1}
    series = await _ok(
        await gateway.client.get(
            "/usage/timeseries",
            params={"group_by": "key", "granularity": "minute", "model": "chat"},
            headers=admin,
        )
    )
    assert series["granularity"] == "minute"
    per_key: dict[str, int] = {}
    for point in series["data"]:
        per_key[point["group"]] = per_key.get(point["group"], 0) + point["requests"]
        assert datetime.fromisoformat(point["bucket"]).second == 0
    assert per_key == {keys["ann_id"]: 3, keys["bob_id"]: 2}
    # the rollups agree with the request log they summarise
    async with gateway.gw.db.session() as session:
        logged = await session.scalar(select(func.count(SpendLog.id)))
        for granularity in ("minute", "hour", "day"):
            rolled = await session.scalar(
                select(func.sum(UsageRollup.requests)).where(
                    UsageRollup.granularity == granularity, UsageRollup.dim == "model"
                )
            )
            assert rolled == logged == 6
    too_many = await gateway.client.get(
        "/usage/timeseries",
        params={"granularity": "hour", "start": "2020-01-01T00:00:00Z"},
        headers=admin,
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "granularity"
    bad = await gateway.client.get("/usage/top", params={"group_by": "planet"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"


async def test_non_admins_read_only_their_own_usage(gateway) -> None:
    keys = await _setup(gateway)
    ann, bob, lead = (gateway.auth(keys[n]) for n in ("ann", "bob", "lead"))
    mine = await _ok(
        await gateway.client.get("/usage/top", params={"group_by": "user"}, headers=ann)
    )
    assert [r["group"] for r in mine["data"]] == ["ann"]
    other = await gateway.client.get("/usage/top", params={"user_id": "bob"}, headers=ann)
    assert other.status_code == 403 and other.json()["error"]["param"] == "user_id"
    team = await gateway.client.get("/usage/top", params={"team_id": "t"}, headers=bob)
    assert team.status_code == 403 and team.json()["error"]["param"] == "team_id"
    # the team admin reads the team's usage (ann's key is in team t), not bob's
    led = await _ok(
        await gateway.client.get("/usage/top", params={"group_by": "key"}, headers=lead)
    )
    assert [r["group"] for r in led["data"]] == [keys["ann_id"]]
    logs = await _ok(
        await gateway.client.get("/spend/logs", params={"paginate": "true"}, headers=bob)
    )
    assert {r["user_id"] for r in logs["data"]} == {"bob"} and len(logs["data"]) == 2
    old_form = await gateway.client.get("/spend/logs", headers=bob)
    assert old_form.status_code == 403  # the unscoped list is for readers


async def test_spend_logs_pages_by_cursor_with_filters(gateway) -> None:
    keys = await _setup(gateway)
    admin = gateway.auth()
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"paginate": "true", "limit": 2}
    while True:
        page = await _ok(await gateway.client.get("/spend/logs", params=params, headers=admin))
        seen += page["data"]
        if page["next_cursor"] is None:
            break
        params = {"cursor": page["next_cursor"], "limit": 2}
    assert len(seen) == 6 and len({r["id"] for r in seen}) == 6
    order = [(r["created_at"], r["id"]) for r in seen]
    assert order == sorted(order, reverse=True)
    row = seen[0]
    for field in (
        "request_id",
        "key_id",
        "team_id",
        "user_id",
        "model_group",
        "deployment",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "ttft_ms",
        "cost",
        "status_code",
        "stream",
        "created_at",
        "trace_id",
    ):
        assert field in row
    anns = await _ok(
        await gateway.client.get(
            "/spend/logs",
            params={"paginate": "true", "key_id": keys["ann_id"], "model": "chat"},
            headers=admin,
        )
    )
    assert len(anns["data"]) == 3 and {r["team_id"] for r in anns["data"]} == {"t"}
    errors = await _ok(
        await gateway.client.get(
            "/spend/logs", params={"paginate": "true", "status": "error"}, headers=admin
        )
    )
    assert errors["data"] == []
    bad = await gateway.client.get("/spend/logs", params={"cursor": "xx"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "cursor"
    status = await gateway.client.get(
        "/spend/logs", params={"paginate": "true", "status": "meh"}, headers=admin
    )
    assert status.status_code == 400 and status.json()["error"]["param"] == "status"


async def test_a_replayed_batch_is_not_counted_twice(gateway) -> None:
    """The outbox may hand the recorder an entry it already wrote: spend log, rollups and
    spend all skip it (one transaction)."""
    entry = UsageEntry(
        request_id="r1",
        key_id=None,
        endpoint="/chat/completions",
        model_group="chat",
        deployment="a",
        usage=Usage(5, 5),
        latency_s=0.1,
        ttft_s=None,
        cost=0.5,
        status_code=500,
        team_id="tx",
    )
    recorder = UsageRecorder(gateway.gw.db)
    await recorder._write([entry])
    await recorder._write([entry])
    async with gateway.gw.db.session() as session:
        rows = (
            await session.execute(
                select(UsageRollup.dim, UsageRollup.requests, UsageRollup.errors).where(
                    UsageRollup.granularity == "hour"
                )
            )
        ).all()
    assert sorted(rows) == [("model", 1, 1), ("team", 1, 1), ("team", 1, 1)]  # chat, and all


def test_spans_cover_a_range_exactly_with_the_fewest_buckets() -> None:
    rng = random.Random(7)
    origin = datetime(2026, 3, 1, tzinfo=UTC)
    step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
    for _ in range(200):
        start = origin + timedelta(minutes=rng.randrange(0, 60 * 24 * 9))
        end = start + timedelta(minutes=rng.randrange(1, 60 * 24 * 9))
        parts = spans(start, end)
        covered = start
        for granularity, lo, hi in parts:
            assert lo == covered and (hi - lo) % step[granularity] == timedelta(0)
            assert lo.timestamp() % step[granularity].total_seconds() == 0
            covered = hi
        assert covered == end
        buckets = sum((hi - lo) // step[g] for g, lo, hi in parts)
        assert buckets <= 2 * 59 + 2 * 23 + (end - start).days + 1


def test_spans_keep_off_pruned_minute_rollups() -> None:
    kept = datetime(2026, 3, 5, 10, 30, tzinfo=UTC)
    start, end = datetime(2026, 3, 1, 7, 13, tzinfo=UTC), datetime(2026, 3, 6, 9, 41, tzinfo=UTC)
    parts = spans(start, end, minutes_since=kept)
    assert parts[0][1] == datetime(2026, 3, 1, 7, tzinfo=UTC)  # widened to the hour
    assert all(lo >= kept for g, lo, _ in parts if g == "minute")
    assert parts[-1] == ("minute", datetime(2026, 3, 6, 9, tzinfo=UTC), end)
    old = spans(start, datetime(2026, 3, 2, 9, 41, tzinfo=UTC), minutes_since=kept)
    assert all(g != "minute" for g, _, _ in old)
    assert old[-1][2] == datetime(2026, 3, 2, 10, tzinfo=UTC)


async def test_minute_rollups_are_pruned_after_their_retention(make_gateway) -> None:
    async with make_gateway(usage_minute_rollups_h=1) as gw:
        await gw.gw.retention.stop()  # this test prunes by itself
        recorder = UsageRecorder(gw.gw.db)
        now = datetime.now(UTC)
        entries = [
            UsageEntry(
                request_id=f"r{i}",
                key_id="k",
                endpoint="/chat/completions",
                model_group="chat",
                deployment="a",
                usage=Usage(1, 1),
                latency_s=0.1,
                ttft_s=None,
                cost=1.0,
                status_code=200,
                created_at=at,
            )
            for i, at in enumerate([now - timedelta(hours=5), now - timedelta(minutes=5)])
        ]
        await recorder._write(entries)
        # the old minute: its key rows (for chat, and for all models) and its model row
        assert await gw.gw.retention.prune() == 3
        async with gw.gw.db.session() as session:
            left = (
                await session.execute(
                    select(UsageRollup.granularity, func.count()).group_by(UsageRollup.granularity)
                )
            ).all()
        same_day = floor_to(now - timedelta(hours=5), "day") == floor_to(now, "day")
        assert dict(left) == {"minute": 3, "hour": 6, "day": 3 if same_day else 6}
        # a range reaching before the horizon still counts both requests (its old edge is
        # summed from whole hours)
        start = (now - timedelta(hours=6)).isoformat()
        top = await gw.client.get(
            "/usage/top", params={"group_by": "model", "start": start}, headers=gw.auth()
        )
        assert top.json()["data"][0]["requests"] == 2
        refused = await gw.client.get(
            "/usage/timeseries",
            params={"granularity": "minute", "start": start},
            headers=gw.auth(),
        )
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "start"
