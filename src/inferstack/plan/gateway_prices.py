"""Prices for self-hosted deployments in the gateway, derived from a plan.

A self-hosted model costs what its instances cost, whether they are busy or not. Spread over
the tokens it serves at its planned load, that is a per-token price:
``output_cost_per_million = $/hour / (output tokens per hour at the planned load) x 1e6``,
or a per-second price of request time: ``cost_per_second = $/hour / 3600 / mean requests in
flight``. :func:`write_gateway_prices` puts either into a gateway YAML file's deployments (the
:class:`inferstack.gateway.settings.DeploymentConfig` fields ``output_cost_per_million`` and
``cost_per_second``), so the gateway's spend and budgets mean something for self-hosted models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from inferstack.plan.planner import PoolPlan

__all__ = ["DeploymentPrice", "deployment_price", "write_gateway_prices"]


class DeploymentPrice(BaseModel):
    """The gateway price fields of one deployment, and how they were derived."""

    output_cost_per_million: float = 0.0
    cost_per_second: float = 0.0
    derived_from: str


def deployment_price(
    plan: PoolPlan,
    rate: float,
    mean_output_tokens: float,
    mean_e2e_s: float | None = None,
    mode: Literal["per-token", "per-second"] = "per-token",
) -> DeploymentPrice:
    """Gateway prices for ONE deployment (replica) of ``plan`` at ``rate`` requests/s in total.

    per-token: the pool's $/1M output tokens (idle and minimum replicas included); per-second:
    one replica's $/s divided by its mean requests in flight (Little's law: rate per replica x
    mean end-to-end seconds), so the seconds of all requests add up to the replica's cost.
    """
    if plan.usd_per_hour is None or plan.usd_per_million_output_tokens is None:
        raise ValueError(f"pool {plan.pool}: no price, so no derived cost ({plan.reason})")
    note = f"{plan.pool}: {plan.replicas} replicas, ${plan.usd_per_hour:.4f}/h at {rate:g} req/s"
    if mode == "per-token":
        return DeploymentPrice(
            output_cost_per_million=round(plan.usd_per_million_output_tokens, 6),
            derived_from=f"{note}, {mean_output_tokens:g} output tokens per request",
        )
    if not mean_e2e_s:
        raise ValueError("per-second pricing needs the mean end-to-end latency")
    per_replica_rate = rate / plan.replicas
    in_flight = max(per_replica_rate * mean_e2e_s, 1e-9)
    usd_s = plan.usd_per_hour / plan.replicas / 3600.0
    return DeploymentPrice(
        cost_per_second=usd_s / in_flight,
        derived_from=f"{note}, {in_flight:.2f} requests in flight per replica",
    )


def write_gateway_prices(
    config: str | Path, group: str, price: DeploymentPrice, out: str | Path | None = None
) -> dict[str, Any]:
    """Set ``price`` on every deployment of model group ``group`` in gateway YAML ``config``
    (written to ``out``, default in place); returns the new settings mapping."""
    path = Path(config)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = data.get("model_groups") or {}
    if group not in groups:
        raise ValueError(f"{path}: no model group {group!r} (has: {', '.join(groups) or 'none'})")
    for dep in groups[group].get("deployments") or []:
        dep["output_cost_per_million"] = price.output_cost_per_million
        dep["cost_per_second"] = price.cost_per_second
    target = Path(out or path)
    # The file may hold upstream API keys: the new file gets the old one's mode (0600 at most).
    mode = path.stat().st_mode & 0o600 if out else path.stat().st_mode & 0o777
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode or 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(yaml.safe_dump(data, sort_keys=False))
    return data
