"""Virtual keys: create, look up, change and revoke them; authenticate a request's bearer key."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from inferstack.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from inferstack.gateway.audit import record_action
from inferstack.gateway.db import Database, Team, User, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.identity import Principal
from inferstack.gateway.key_access import (
    check_key,
    check_models_within,
    check_new_key,
    owner_fields,
    visible_keys,
)
from inferstack.gateway.key_records import add_scopes, key_info, key_record
from inferstack.gateway.key_types import (
    KeyGenerateRequest,
    KeyInfo,
    KeyRecord,
    KeyUpdateRequest,
    LimitScope,
    parse_duration,
)
from inferstack.gateway.masterkey import KEY_PREFIX, hash_key, keys_equal
from inferstack.gateway.pagination import decode_time_cursor, encode_cursor
from inferstack.gateway.settings import OrgLimits

__all__ = ["KeyService", "key_info"]

_MASTER = Principal.master()


class KeyService:
    """Keys in the database, with a short per-replica cache so auth costs no query per call.

    Spend is tracked per *spend name*: a key's id, ``team:<id>`` and ``user:<id>``.
    """

    def __init__(
        self,
        db: Database,
        master_key: str,
        *,
        cache_ttl_s: float = 2.0,
        unknown_ttl_s: float = 5.0,
        unknown_max: int = 10_000,
        org: OrgLimits | None = None,
        access: Callable[[], Mapping[str, frozenset[str]]] | None = None,
    ) -> None:
        self._db = db
        self._org = org or OrgLimits()
        self._access = access
        # Digests of keys the database did not know, and until when that answer holds: a flood
        # of made-up keys costs one query per key per ``unknown_ttl_s``, not one per request.
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._unknown_ttl_s = unknown_ttl_s
        self._unknown_max = unknown_max
        self._master_key = master_key
        self._master = KeyRecord(key_id=None, is_master=True)
        self._cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[float, KeyRecord]] = {}
        self._latest: dict[str, KeyRecord] = {}  # key id → the record loaded last
        self._latest_scope: dict[str, LimitScope] = {}  # spend name → the scope loaded last
        # Spend counted here but not yet written by the usage recorder, per spend name.
        self._pending: dict[str, float] = {}
        self._written: dict[str, float] = {}  # spend the recorder has written, per spend name

    # -- authentication -----------------------------------------------------------------

    def is_master(self, key: str) -> bool:
        return keys_equal(key, self._master_key)

    async def authenticate(self, key: str | None) -> KeyRecord:
        """The record of a bearer key; 401 when missing, unknown, revoked or expired."""
        if not key:
            raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
        if self.is_master(key):
            return self._master
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_ttl_s:
            record = cached[1]
        else:
            if self._unknown.get(digest, 0.0) > now:
                raise AuthenticationError("invalid API key")
            try:
                record = await self._load(digest)
            except AuthenticationError:
                self._remember_unknown(digest, now)
                raise
            self._cache[digest] = (now, record)
            if record.key_id is not None:
                self._latest[record.key_id] = record
            for scope in record.scopes:
                self._latest_scope[scope.name] = scope
        if record.revoked:
            raise AuthenticationError("this API key has been revoked")
        if record.expires_at is not None and record.expires_at <= utcnow():
            raise AuthenticationError("this API key has expired")
        return record

    def _remember_unknown(self, digest: str, now: float) -> None:
        if self._unknown_ttl_s <= 0:
            return
        self._unknown[digest] = now + self._unknown_ttl_s
        self._unknown.move_to_end(digest)
        while len(self._unknown) > self._unknown_max:
            self._unknown.popitem(last=False)

    async def _load(self, digest: str) -> KeyRecord:
        try:
            return await self._load_row(digest)
        except (SQLAlchemyError, OSError) as exc:
            # NOTE: fail closed for a key this replica has not seen recently: it cannot be
            # checked. Cached keys keep working (see authenticate).
            raise ServiceUnavailableError(
                f"the key store is unavailable ({type(exc).__name__}); retry shortly",
                headers={"Retry-After": "5"},
            ) from exc

    async def _load_row(self, digest: str) -> KeyRecord:
        written_before = dict(self._written)
        async with self._db.session() as session:
            row = await session.scalar(select(VirtualKey).where(VirtualKey.key_hash == digest))
            if row is None:
                raise AuthenticationError("invalid API key")
            now = utcnow()
            if row.budget_period_s and row.budget_reset_at and row.budget_reset_at <= now:
                # Guarded by the old reset time, so replicas racing here reset only once.
                await session.execute(
                    update(VirtualKey)
                    .where(
                        VirtualKey.id == row.id, VirtualKey.budget_reset_at == row.budget_reset_at
                    )
                    .values(spend=0.0, budget_reset_at=now + timedelta(seconds=row.budget_period_s))
                )
                await session.commit()
                await session.refresh(row)
            record = key_record(row, self._org)
            await add_scopes(session, row, record)
        record.access = self._access

        # NOTE: after the session has closed (its exit awaits): no spend may be added between
        # this sum and the caller using the record. Spend written while the row was being read
        # may be missing from the row and already gone from pending: count it (at worst twice,
        # never not at all).
        def unwritten(name: str) -> float:
            during = self._written.get(name, 0.0) - written_before.get(name, 0.0)
            return self._pending.get(name, 0.0) + during

        assert record.key_id is not None
        record.spend += unwritten(record.key_id)
        for scope in record.scopes:
            scope.spend += unwritten(scope.name)
        return record

    @staticmethod
    def check_budget(record: KeyRecord) -> None:
        """429 when the key, its team or its user has spent its budget for the period."""
        if record.max_budget is not None and record.spend >= record.max_budget:
            raise RateLimitError(
                f"budget exceeded: spent ${record.spend:.6f} of ${record.max_budget:.6f}"
                + (
                    f"; resets at {record.budget_reset_at.isoformat()}"
                    if record.budget_reset_at
                    else ""
                ),
                code="budget_exceeded",
            )
        for scope in record.scopes:
            if scope.max_budget is not None and scope.spend >= scope.max_budget:
                raise RateLimitError(
                    f"{scope.kind} budget exceeded: {scope.kind} '{scope.id}' spent "
                    f"${scope.spend:.6f} of ${scope.max_budget:.6f}",
                    code="budget_exceeded",
                )

    def spend_of(self, record: KeyRecord) -> float:
        """The key's spend as this replica knows it now, settled calls included (``record``
        may be a snapshot taken before some of them)."""
        latest = self._latest.get(record.key_id) if record.key_id is not None else None
        return max(record.spend, latest.spend) if latest is not None else record.spend

    def scope_spend(self, scope: LimitScope) -> float:
        """A team's or user's spend as this replica knows it now."""
        latest = self._latest_scope.get(scope.name)
        return max(scope.spend, latest.spend) if latest is not None else scope.spend

    def add_spend(self, record: KeyRecord, cost: float) -> None:
        """Count ``cost`` against the cached key, team and user now (the database follows)."""
        if record.key_id is None or cost <= 0:
            return
        key_id = record.key_id
        self._pending[key_id] = self._pending.get(key_id, 0.0) + cost
        latest = self._latest.get(key_id)
        if latest is not None:
            latest.spend += cost
        names = {scope.name for scope in record.scopes}
        for name in names:
            self._pending[name] = self._pending.get(name, 0.0) + cost
            if name in self._latest_scope:
                self._latest_scope[name].spend += cost
        for _, cached in self._cache.values():
            if cached.key_id == key_id and cached is not latest:
                cached.spend += cost
            for scope in cached.scopes:
                if scope.name in names and scope is not self._latest_scope.get(scope.name):
                    scope.spend += cost

    def spend_written(self, spend: dict[str, float]) -> None:
        """The recorder committed ``spend`` (by spend name) to the database: not pending now."""
        for name, cost in spend.items():
            self._written[name] = self._written.get(name, 0.0) + cost
            left = self._pending.get(name, 0.0) - cost
            if left > 1e-12:
                self._pending[name] = left
            else:
                self._pending.pop(name, None)

    def forget_all(self) -> None:
        """Drop every cached key (a team's or user's limits changed)."""
        self._cache.clear()

    # -- administration -----------------------------------------------------------------

    async def generate(
        self, spec: KeyGenerateRequest, who: Principal = _MASTER
    ) -> tuple[str, KeyInfo]:
        """Create a key; returns the secret (shown once) and its info."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        lifetime = parse_duration(spec.duration)
        period = parse_duration(spec.budget_duration)
        async with self._db.session() as session:
            await check_new_key(session, who, spec)
            row = VirtualKey(
                id="key_" + secrets.token_hex(8),
                key_hash=hash_key(secret),
                key_hint=f"{secret[:5]}...{secret[-4:]}",
                alias=spec.alias,
                models=list(spec.models or []),
                expires_at=now + timedelta(seconds=lifetime) if lifetime else None,
                max_budget=spec.max_budget,
                budget_period_s=period,
                budget_reset_at=now + timedelta(seconds=period) if period else None,
                spend=0.0,
                rpm_limit=spec.rpm_limit,
                tpm_limit=spec.tpm_limit,
                max_parallel_requests=spec.max_parallel_requests,
                metadata_=dict(spec.metadata or {}),
                revoked=False,
                created_at=now,
                updated_at=now,
                user_id=spec.user_id,
                team_id=spec.team_id,
            )
            session.add(row)
            info = key_info(row)
            record_action(
                session, who, "key.generate", "key", row.id, after=info.model_dump(mode="json")
            )
            await session.commit()
        self._unknown.pop(row.key_hash, None)
        return secret, info

    async def _row(self, session: Any, key_id: str | None, key: str | None) -> VirtualKey:
        if key is not None:
            query = select(VirtualKey).where(VirtualKey.key_hash == hash_key(key))
        elif key_id is not None:
            query = select(VirtualKey).where(VirtualKey.id == key_id)
        else:
            raise NotFoundError("name a key with key_id or key", param="key_id")
        row = await session.scalar(query)
        if row is None:
            raise NotFoundError("no such key", param="key_id", code="key_not_found")
        return row

    async def info(
        self, *, key_id: str | None = None, key: str | None = None, who: Principal = _MASTER
    ) -> KeyInfo:
        own = who.key.key_id if who.key is not None else None
        if who.kind == "key" and (key is not None or key_id != own):
            raise PermissionDeniedError("a virtual key may only look up itself", param="key_id")
        async with self._db.session() as session:
            row = await self._row(session, key_id, key)
            check_key(who, row, write=False)
            return key_info(row)

    async def update(self, change: KeyUpdateRequest, who: Principal = _MASTER) -> KeyInfo:
        sent = change.model_fields_set
        owner_fields(change, who)
        async with self._db.session() as session:
            row = await self._row(session, change.key_id, change.key)
            check_key(who, row, write=True)
            before = key_info(row).model_dump(mode="json")
            now = utcnow()
            for name in ("alias", "max_budget", "rpm_limit", "tpm_limit", "max_parallel_requests"):
                if name in sent:
                    setattr(row, name, getattr(change, name))
            for name in ("user_id", "team_id"):
                if name in sent:
                    setattr(row, name, getattr(change, name))
            if "models" in sent:
                row.models = list(change.models or [])
            if row.team_id is not None and ("models" in sent or "team_id" in sent):
                team = await session.get(Team, row.team_id)
                if team is None:
                    raise NotFoundError(f"no team '{row.team_id}'", param="team_id")
                check_models_within(list(row.models or []), list(team.models or []), team.id)
            missing_user = row.user_id is not None and await session.get(User, row.user_id) is None
            if "user_id" in sent and missing_user:
                raise NotFoundError(f"no user '{row.user_id}'", param="user_id")
            if "metadata" in sent:
                row.metadata_ = dict(change.metadata or {})
            if "spend" in sent and change.spend is not None:
                row.spend = change.spend
            if "duration" in sent:
                lifetime = parse_duration(change.duration)
                row.expires_at = now + timedelta(seconds=lifetime) if lifetime else None
            if "budget_duration" in sent:
                period = parse_duration(change.budget_duration)
                row.budget_period_s = period
                row.budget_reset_at = now + timedelta(seconds=period) if period else None
            row.updated_at = now
            info = key_info(row)
            after = info.model_dump(mode="json")
            record_action(session, who, "key.update", "key", row.id, before=before, after=after)
            await session.commit()
            self._forget(row.key_hash)
            return info

    async def delete(
        self, key_ids: list[str], keys: list[str], who: Principal = _MASTER
    ) -> list[str]:
        """Revoke keys (rows stay, so their spend history keeps its owner)."""
        revoked: list[str] = []
        async with self._db.session() as session:
            for key_id, key in [(k, None) for k in key_ids] + [(None, k) for k in keys]:
                row = await self._row(session, key_id, key)
                check_key(who, row, write=True)
                before = key_info(row).model_dump(mode="json")
                row.revoked = True
                row.updated_at = utcnow()
                record_action(session, who, "key.delete", "key", row.id, before=before)
                self._forget(row.key_hash)
                revoked.append(row.id)
            await session.commit()
        return revoked

    async def list(
        self,
        *,
        include_revoked: bool = False,
        who: Principal = _MASTER,
        team_id: str | None = None,
        user_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[KeyInfo], str | None]:
        """Keys ``who`` may see, oldest first; with ``limit``, a page and the next cursor."""
        if who.kind == "key":
            raise PermissionDeniedError("a virtual key that belongs to no user lists no keys")
        query = select(VirtualKey).order_by(VirtualKey.created_at, VirtualKey.id)
        if not include_revoked:
            query = query.where(VirtualKey.revoked.is_(False))
        visible = visible_keys(who)
        if visible is not None:
            query = query.where(visible)
        if team_id is not None:
            query = query.where(VirtualKey.team_id == team_id)
        if user_id is not None:
            query = query.where(VirtualKey.user_id == user_id)
        if cursor is not None:
            at, last_id = decode_time_cursor(cursor)
            query = query.where(
                (VirtualKey.created_at > at)
                | ((VirtualKey.created_at == at) & (VirtualKey.id > str(last_id)))
            )
        if limit is not None:
            query = query.limit(limit + 1)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        next_cursor = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].created_at.isoformat(), rows[-1].id)
        return [key_info(row) for row in rows], next_cursor

    def _forget(self, digest: str) -> None:
        self._cache.pop(digest, None)
