"""Every console query is served by an index or the rollups (a small-scale console_load).

The console's calls (the benchmark's own list) run against a real PostgreSQL filled by the
benchmark's generator; every statement they send to a large table is EXPLAINed with sequential
scans disabled: a Seq Scan left in the plan means no index can serve it. Nothing is timed.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from inferstack.bench.console_data import DataSpec, generate
from inferstack.bench.console_load import console_context, measure, routes

# The tables that grow with traffic or tenants; small ones (teams, members) may be scanned.
_LARGE = {"spend_logs", "usage_rollups", "virtual_keys", "audit_log", "users"}
_PAGED = {"spend_logs", "audit_log", "users"}  # read a page at a time: always under a Limit
_POINT = re.compile(r"WHERE (users|audit_log)\.id = \$\d+")  # one row by primary key


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += _nodes(child)
    return out


@pytest.fixture
async def pg_url(postgres_server) -> str:
    name = "plans_" + secrets.token_hex(6)
    conn = await asyncpg.connect(postgres_server.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return postgres_server.url.rsplit("/", 1)[0] + "/" + name


async def test_every_console_query_is_served_by_an_index(make_gateway, pg_url) -> None:
    spec = DataSpec(requests=20_000, keys=300, users=60, teams=6, days=30, audit=500)
    groups = {m: {"deployments": [{"api_base": f"http://{m}/v1"}]} for m in ("chat-large",)}
    async with make_gateway(database_url=pg_url, model_groups=groups) as gw:
        raw = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await generate(raw, spec)
            statements: list[tuple[str, Any]] = []

            def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
                if statement.lstrip().upper().startswith("SELECT"):
                    statements.append((statement, parameters))

            engine = gw.gw.db.engine.sync_engine
            event.listen(engine, "before_cursor_execute", capture)
            ctx = await console_context(gw.client, spec, gw.master)
            table = routes()
            await measure(gw.client, table, ctx, samples=2, seed=3)
            event.remove(engine, "before_cursor_execute", capture)
            assert not [r.name for r in table if r.failures]

            await raw.execute("SET enable_seqscan = off")
            checked = set()
            for statement, parameters in statements:
                tables = {t for t in _LARGE if t in statement}
                if not tables or statement in checked:
                    continue
                checked.add(statement)
                explained = await raw.fetchval(
                    "EXPLAIN (FORMAT JSON) " + statement, *(parameters or ())
                )
                plan = json.loads(explained)[0]["Plan"]
                nodes = _nodes(plan)
                scanned = {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"}
                assert not scanned & _LARGE, (statement, json.dumps(plan, indent=1))
                if tables & _PAGED and not _POINT.search(statement):
                    assert plan["Node Type"] == "Limit", statement
                assert " OFFSET " not in statement.upper()
            assert len(checked) >= 15  # the console's queries were really seen
        finally:
            await raw.close()
