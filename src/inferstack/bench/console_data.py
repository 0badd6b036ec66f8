"""Generate a console-sized gateway database in PostgreSQL, in SQL (``generate_series``), fast:
users, teams and members, virtual keys, spend log rows over the last ``days``, and the usage
rollups the gateway would have kept for them (the same buckets and groups as
``inferstack.gateway.rollups``; minute rollups for the last ``minute_hours`` only, as the
gateway's retention keeps them).

The schema is the gateway's own (its migrations ran first). Keys are ``key_000000`` …, each
owned by user ``i % users`` whose team is ``user % teams``; traffic is skewed towards low key
numbers (``keys * random()^2``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["DataSpec", "add_spec_arguments", "generate", "spec_from_args"]

MODELS = ("chat", "chat-large", "embed")


@dataclass(frozen=True)
class DataSpec:
    requests: int = 1_000_000
    keys: int = 10_000
    users: int = 1_000
    teams: int = 100
    days: int = 30
    audit: int = 10_000
    minute_hours: float = 72.0  # the gateway's usage_minute_rollups_h: older ones are pruned


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that size the generated database (the console benchmarks share them)."""
    parser.add_argument("--requests", type=int, default=1_000_000, help="spend log rows")
    parser.add_argument("--keys", type=int, default=10_000, help="virtual keys")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--days", type=int, default=30, help="the spread of the requests")


def spec_from_args(args: argparse.Namespace) -> DataSpec:
    return DataSpec(
        requests=args.requests,
        keys=args.keys,
        users=args.users,
        teams=args.teams,
        days=args.days,
        audit=min(10_000, args.requests),
    )


def _user(expr: str) -> str:
    return f"'user_' || lpad(({expr})::text, 5, '0')"


def _team(expr: str) -> str:
    return f"'team_' || lpad(({expr})::text, 4, '0')"


def _tenants(s: DataSpec) -> list[str]:
    return [
        f"""INSERT INTO users (id, email, role, password_hash, max_budget, spend, models,
            metadata, created_at, updated_at)
        SELECT {_user("i")}, 'user' || i || '@example.com', 'internal_user', NULL, NULL, 0,
            '[]', '{{}}', now(), now()
        FROM generate_series(0, {s.users - 1}) i""",
        f"""INSERT INTO teams (id, alias, models, max_budget, budget_period_s, budget_reset_at,
            spend, rpm_limit, tpm_limit, metadata, created_at, updated_at)
        SELECT {_team("i")}, 'Team ' || i, '[]', 1000, NULL, NULL, 0, NULL, NULL, '{{}}',
            now() - (i || ' minutes')::interval, now()
        FROM generate_series(0, {s.teams - 1}) i""",
        f"""INSERT INTO team_members (team_id, user_id, role)
        SELECT {_team(f"i % {s.teams}")}, {_user("i")},
            CASE WHEN i < {s.teams} THEN 'admin' ELSE 'user' END
        FROM generate_series(0, {s.users - 1}) i""",
        f"""INSERT INTO virtual_keys (id, key_hash, key_hint, alias, models, expires_at,
            max_budget, budget_period_s, budget_reset_at, spend, rpm_limit, tpm_limit,
            max_parallel_requests, metadata, revoked, created_at, updated_at, user_id, team_id)
        SELECT 'key_' || lpad(i::text, 6, '0'),
            encode(sha256(('bench-key-' || i || '-' || random())::bytea), 'hex'),
            'sk-be...' || lpad(i::text, 4, '0'), 'key ' || i, '[]', NULL, 100, NULL, NULL, 0,
            NULL, NULL, NULL, '{{}}', false, now() - (i || ' seconds')::interval, now(),
            {_user(f"i % {s.users}")}, {_team(f"i % {s.users} % {s.teams}")}
        FROM generate_series(0, {s.keys - 1}) i""",
        f"""INSERT INTO audit_log (at, actor, action, target_type, target_id, before, after)
        SELECT now() - (i || ' seconds')::interval, 'master', 'key.update', 'key',
            'key_' || lpad((i % {s.keys})::text, 6, '0'), '{{"max_budget": 10}}',
            '{{"max_budget": 100}}'
        FROM generate_series(1, {s.audit}) i""",
    ]


def _spend_logs(s: DataSpec) -> str:
    models = "ARRAY[" + ", ".join(f"'{m}'" for m in MODELS) + "]"
    return f"""INSERT INTO spend_logs (request_id, entry_id, key_id, team_id, user_id, endpoint,
        model_group, deployment, prompt_tokens, completion_tokens, latency_ms, ttft_ms, cost,
        status_code, stream, cache_hit, created_at, trace_id)
    SELECT 'req_' || i, md5(i::text), 'key_' || lpad(k::text, 6, '0'),
        {_team(f"k % {s.users} % {s.teams}")}, {_user(f"k % {s.users}")},
        CASE WHEN m = 3 THEN '/embeddings' ELSE '/chat/completions' END,
        ({models})[m], ({models})[m] || '/0', pt, ct, 50 + ct * 20, 30 + random() * 200,
        pt * 0.000001 + ct * 0.000002,
        CASE WHEN r < 0.02 THEN 500 WHEN r < 0.03 THEN 429 ELSE 200 END,
        m <> 3 AND r > 0.5, false,
        now() - random() * interval '{s.days} days', md5('t' || i)
    FROM (
        SELECT i, floor({s.keys} * power(random(), 2))::int AS k, 1 + floor(random() * 3)::int AS m,
            (20 + random() * 800)::int AS pt, (random() * 400)::int AS ct, random() AS r
        FROM generate_series(1, {s.requests}) i
    ) g"""


_DIMS = {
    # dim: (group id, team column, user column, rows that count)
    "key": ("key_id", "min(team_id)", "min(user_id)", "key_id IS NOT NULL"),
    "team": ("team_id", "team_id", "NULL", "team_id IS NOT NULL"),
    "user": ("user_id", "NULL", "user_id", "user_id IS NOT NULL"),
    "model": ("model_group", "NULL", "NULL", "true"),
}


def _rollups(s: DataSpec) -> list[str]:
    out = []
    for granularity in ("minute", "hour", "day"):
        for dim, (group, team, user, where) in _DIMS.items():
            if granularity == "minute":
                where += f" AND created_at >= now() - interval '{s.minute_hours} hours'"
            # per model, and (but for the model rows) summed over every model
            for model, by in [("model_group", ", model_group")] + (
                [("'*'", "")] if dim != "model" else []
            ):
                out.append(
                    f"""INSERT INTO usage_rollups (granularity, bucket, dim, group_id,
                        model_group, team_id, user_id, requests, prompt_tokens,
                        completion_tokens, cost, errors)
                    SELECT '{granularity}', date_trunc('{granularity}', created_at), '{dim}',
                        {group}, {model}, {team}, {user}, count(*), sum(prompt_tokens),
                        sum(completion_tokens), sum(cost), sum((status_code >= 400)::int)
                    FROM spend_logs WHERE {where}
                    GROUP BY date_trunc('{granularity}', created_at), {group}{by}"""
                )
    return out


async def _without_indexes(conn: Any, tables: list[str]) -> list[str]:
    """Drop the secondary indexes and unique constraints of ``tables`` (a bulk load is far
    faster without them); returns the statements that build them again."""
    rebuild: list[str] = []
    for table in tables:
        constraints = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = $1::regclass AND contype = 'u'",
            table,
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass)",
            table,
        )
        for c in constraints:
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{c["conname"]}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{c["conname"]}" {c["def"]}')
        for i in indexes:
            await conn.execute(f'DROP INDEX "{i["indexname"]}"')
            rebuild.append(i["indexdef"])
    return rebuild


async def generate(conn: Any, spec: DataSpec, log: Any = None) -> dict[str, float]:
    """Fill the gateway's tables through asyncpg ``conn``; returns seconds per phase.

    The indexes of the two big tables are dropped for the load and built again after it: the
    tables end up exactly as the gateway's migrations made them.
    """
    timings: dict[str, float] = {}

    async def phase(name: str, statements: list[str]) -> None:
        started = time.perf_counter()
        for sql in statements:
            await conn.execute(sql)
        timings[name] = time.perf_counter() - started
        if log is not None:
            log(f"{name}: {timings[name]:.1f} s")

    await conn.execute("SET timezone = 'UTC'")
    await phase("tenants and keys", _tenants(spec))
    rebuild = await _without_indexes(conn, ["spend_logs", "usage_rollups"])
    await phase("spend logs", [_spend_logs(spec)])
    await phase("rollups", _rollups(spec))
    await phase("indexes", rebuild)
    await phase("analyze", ["ANALYZE"])
    return timings
