"""Models managed at run time: deployments stored in the database, served next to the YAML
config's without a restart, and model access groups.

A replica applies its own changes at once; every replica also re-reads the table every
``models_refresh_s``, so a deployment added through one replica is routed by all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from inferstack.errors import InvalidRequestError, NotFoundError
from inferstack.gateway.audit import record_action
from inferstack.gateway.db import Database, ModelDeployment
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.deployments import Deployment, DeploymentPool
from inferstack.gateway.identity import Principal, require_admin, require_reader
from inferstack.gateway.model_types import (
    ModelNewRequest,
    ModelUpdateRequest,
    deployment_config,
    public_params,
)

__all__ = ["ModelRegistry"]

logger = logging.getLogger(__name__)


def _json(row: ModelDeployment) -> dict[str, Any]:
    params = {k: v for k, v in (row.litellm_params or {}).items() if k != "api_key"}
    return {
        "model_id": row.id,
        "model_name": row.model_name,
        "litellm_params": params,
        "model_info": dict(row.model_info or {}),
    }


class ModelRegistry:
    """``/model/*`` over the deployment pool; ``access_groups`` feeds key model checks."""

    def __init__(self, db: Database, pool: DeploymentPool, *, refresh_s: float = 10.0) -> None:
        self._db = db
        self._pool = pool
        self._refresh_s = refresh_s
        self._static = {dep.id for dep in pool.all()}  # from the config file
        self._loaded: dict[str, tuple[datetime, Deployment]] = {}  # db id → (version, dep)
        self._info: dict[str, dict[str, Any]] = {}  # db id → model_info
        self._access: dict[str, frozenset[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def access_groups(self) -> dict[str, frozenset[str]]:
        """Access group name → the model names in it."""
        return self._access

    # -- keeping the pool in step with the table ---------------------------------------------

    def _apply(self, row: ModelDeployment) -> None:
        config = deployment_config(row.model_name, row.id, dict(row.litellm_params or {}))
        dep = Deployment(
            id=row.id,
            group=row.model_name,
            config=config,
            model=config.model or row.model_name,
            token=config.bearer_token(),
        )
        self._pool.add(dep)
        self._loaded[row.id] = (row.updated_at, dep)
        self._info[row.id] = dict(row.model_info or {})

    def _drop(self, model_id: str) -> None:
        self._pool.remove(model_id)
        self._loaded.pop(model_id, None)
        self._info.pop(model_id, None)

    def _reindex(self) -> None:
        access: dict[str, set[str]] = {}
        for model_id, info in self._info.items():
            group = self._loaded[model_id][1].group
            for name in info.get("access_groups") or []:
                access.setdefault(str(name), set()).add(group)
        self._access = {name: frozenset(models) for name, models in access.items()}

    async def sync(self) -> None:
        """Make the pool match the table (added, changed and deleted deployments)."""
        async with self._db.session() as session:
            rows = list(await session.scalars(select(ModelDeployment)))
        seen = set()
        for row in rows:
            seen.add(row.id)
            loaded = self._loaded.get(row.id)
            if loaded is None or loaded[0] != row.updated_at:
                try:
                    self._apply(row)
                except InvalidRequestError as exc:  # e.g. its api_key_env is unset here
                    logger.error("cannot serve model %s: %s", row.id, exc.message)
        for model_id in set(self._loaded) - seen:
            self._drop(model_id)
        self._reindex()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.sync()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("could not re-read the models table: %s", exc)

    async def start(self) -> None:
        await self.sync()
        self._task = asyncio.create_task(self._run(), name="gateway-model-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the admin routes ---------------------------------------------------------------------

    async def new(self, spec: ModelNewRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        model_id = str(spec.model_info.get("id") or "model_" + secrets.token_hex(8))
        if model_id in self._static:
            raise InvalidRequestError(
                f"'{model_id}' names a deployment of the config file", param="model_info.id"
            )
        deployment_config(spec.model_name, model_id, spec.litellm_params)  # 400 before storing
        now = utcnow()
        row = ModelDeployment(
            id=model_id,
            model_name=spec.model_name,
            litellm_params=dict(spec.litellm_params),
            model_info={**spec.model_info, "id": model_id},
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            if await session.get(ModelDeployment, model_id) is not None:
                raise InvalidRequestError(
                    f"a model with id '{model_id}' exists", param="model_info.id"
                )
            session.add(row)
            record_action(session, who, "model.new", "model", model_id, after=_json(row))
            await session.commit()
        self._apply(row)
        self._reindex()
        return {"model_id": model_id, **_json(row)}

    async def _row(self, session: Any, model_id: str) -> ModelDeployment:
        row = await session.get(ModelDeployment, model_id)
        if row is None:
            if model_id in self._static:
                raise InvalidRequestError(
                    f"'{model_id}' is defined in the config file; change it there",
                    param="model_id",
                )
            raise NotFoundError(f"no model '{model_id}'", param="model_id", code="model_not_found")
        return row

    async def update(self, change: ModelUpdateRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        async with self._db.session() as session:
            row = await self._row(session, change.model_id)
            before = _json(row)
            name = change.model_name or row.model_name
            params = {**(row.litellm_params or {}), **(change.litellm_params or {})}
            deployment_config(name, row.id, params)
            row.model_name = name
            row.litellm_params = params
            row.model_info = {**(row.model_info or {}), **(change.model_info or {}), "id": row.id}
            row.updated_at = utcnow()
            after = _json(row)
            record_action(session, who, "model.update", "model", row.id, before=before, after=after)
            await session.commit()
        self._apply(row)
        self._reindex()
        return after

    async def delete(self, model_id: str, who: Principal) -> dict[str, Any]:
        require_admin(who)
        async with self._db.session() as session:
            row = await self._row(session, model_id)
            record_action(session, who, "model.delete", "model", model_id, before=_json(row))
            await session.delete(row)
            await session.commit()
        self._drop(model_id)
        self._reindex()
        return {"deleted": model_id}

    def info(self, who: Principal) -> dict[str, Any]:
        """Every deployment, from the config file and the database, with its health."""
        require_reader(who)
        data = []
        for dep in self._pool.all():
            cooldown = self._pool.cooldown_left(dep)
            data.append(
                {
                    "model_name": dep.group,
                    "litellm_params": public_params(dep.config),
                    "model_info": {
                        **self._info.get(dep.id, {}),
                        "id": dep.id,
                        "db_model": dep.id in self._loaded,
                    },
                    "health": {
                        "healthy": dep.healthy,
                        "cooldown_until": (
                            datetime.fromtimestamp(cooldown, UTC).isoformat() if cooldown else None
                        ),
                        "failures": dep.failures,
                        "outstanding": dep.outstanding,
                    },
                }
            )
        return {"data": data}
