"""Virtual keys: create, look up, change and revoke them; authenticate a request's bearer key."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from inferstack.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from inferstack.gateway.db import Database, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.key_types import (
    KeyGenerateRequest,
    KeyInfo,
    KeyRecord,
    KeyUpdateRequest,
    parse_duration,
)
from inferstack.gateway.masterkey import KEY_PREFIX, hash_key, keys_equal

__all__ = ["KeyService"]


def _info(row: VirtualKey) -> KeyInfo:
    return KeyInfo(
        key_id=row.id,
        key_hint=row.key_hint,
        alias=row.alias,
        models=list(row.models or []),
        expires_at=row.expires_at,
        max_budget=row.max_budget,
        budget_duration_s=row.budget_period_s,
        budget_reset_at=row.budget_reset_at,
        spend=row.spend,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        max_parallel_requests=row.max_parallel_requests,
        metadata=dict(row.metadata_ or {}),
        revoked=row.revoked,
        created_at=row.created_at,
    )


def _record(row: VirtualKey) -> KeyRecord:
    return KeyRecord(
        key_id=row.id,
        models=list(row.models or []),
        expires_at=row.expires_at,
        max_budget=row.max_budget,
        budget_period_s=row.budget_period_s,
        budget_reset_at=row.budget_reset_at,
        spend=row.spend,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        max_parallel_requests=row.max_parallel_requests,
        revoked=row.revoked,
        alias=row.alias,
        record_content=(row.metadata_ or {}).get("record_content") is True,
    )


class KeyService:
    """Keys in the database, with a short per-replica cache so auth costs no query per call."""

    def __init__(
        self,
        db: Database,
        master_key: str,
        *,
        cache_ttl_s: float = 2.0,
        unknown_ttl_s: float = 5.0,
        unknown_max: int = 10_000,
    ) -> None:
        self._db = db
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
        # Spend counted here but not yet written by the usage recorder, per key id.
        self._pending: dict[str, float] = {}
        self._written: dict[str, float] = {}  # spend the recorder has written, per key id

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
            record = _record(row)
        # NOTE: after the session has closed (its exit awaits): no spend may be added between
        # this sum and the caller using the record. Spend written while the row was being read
        # may be missing from the row and already gone from pending: count it (at worst twice,
        # never not at all).
        during = self._written.get(record.key_id, 0.0) - written_before.get(record.key_id, 0.0)
        record.spend += self._pending.get(record.key_id, 0.0) + during
        return record

    @staticmethod
    def check_budget(record: KeyRecord) -> None:
        """429 when the key has spent its budget for the current period."""
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

    def spend_of(self, record: KeyRecord) -> float:
        """The key's spend as this replica knows it now, settled calls included (``record``
        may be a snapshot taken before some of them)."""
        latest = self._latest.get(record.key_id) if record.key_id is not None else None
        return max(record.spend, latest.spend) if latest is not None else record.spend

    def add_spend(self, key_id: str | None, cost: float) -> None:
        """Count ``cost`` against cached records now (the database follows in the background)."""
        if key_id is None or cost <= 0:
            return
        self._pending[key_id] = self._pending.get(key_id, 0.0) + cost
        latest = self._latest.get(key_id)
        if latest is not None:
            latest.spend += cost
        for _, record in self._cache.values():
            if record.key_id == key_id and record is not latest:
                record.spend += cost

    def spend_written(self, spend: dict[str, float]) -> None:
        """The recorder committed ``spend`` to the database: it is no longer pending."""
        for key_id, cost in spend.items():
            self._written[key_id] = self._written.get(key_id, 0.0) + cost
            left = self._pending.get(key_id, 0.0) - cost
            if left > 1e-12:
                self._pending[key_id] = left
            else:
                self._pending.pop(key_id, None)

    # -- administration -----------------------------------------------------------------

    async def generate(self, spec: KeyGenerateRequest) -> tuple[str, KeyInfo]:
        """Create a key; returns the secret (shown once) and its info."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        lifetime = parse_duration(spec.duration)
        period = parse_duration(spec.budget_duration)
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
        )
        async with self._db.session() as session:
            session.add(row)
            await session.commit()
        self._unknown.pop(row.key_hash, None)
        return secret, _info(row)

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

    async def info(self, *, key_id: str | None = None, key: str | None = None) -> KeyInfo:
        async with self._db.session() as session:
            return _info(await self._row(session, key_id, key))

    async def update(self, change: KeyUpdateRequest) -> KeyInfo:
        sent = change.model_fields_set
        async with self._db.session() as session:
            row = await self._row(session, change.key_id, change.key)
            now = utcnow()
            for name in ("alias", "max_budget", "rpm_limit", "tpm_limit", "max_parallel_requests"):
                if name in sent:
                    setattr(row, name, getattr(change, name))
            if "models" in sent:
                row.models = list(change.models or [])
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
            await session.commit()
            self._forget(row.key_hash)
            return _info(row)

    async def delete(self, key_ids: list[str], keys: list[str]) -> list[str]:
        """Revoke keys (rows stay, so their spend history keeps its owner)."""
        revoked: list[str] = []
        async with self._db.session() as session:
            for key_id, key in [(k, None) for k in key_ids] + [(None, k) for k in keys]:
                row = await self._row(session, key_id, key)
                row.revoked = True
                row.updated_at = utcnow()
                self._forget(row.key_hash)
                revoked.append(row.id)
            await session.commit()
        return revoked

    async def list(self, *, include_revoked: bool = False) -> list[KeyInfo]:
        query = select(VirtualKey).order_by(VirtualKey.created_at)
        if not include_revoked:
            query = query.where(VirtualKey.revoked.is_(False))
        async with self._db.session() as session:
            return [_info(row) for row in await session.scalars(query)]

    def _forget(self, digest: str) -> None:
        self._cache.pop(digest, None)
