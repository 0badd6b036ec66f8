"""Prices for self-hosted deployments, written into a gateway config the gateway then loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from inferstack.gateway.settings import GatewaySettings
from inferstack.gateway.usage import Usage, request_cost
from inferstack.plan.gateway_prices import deployment_price, write_gateway_prices
from inferstack.plan.planner import plan_pool, pool_options
from inferstack.plan.prices import load_prices
from inferstack.plan.profiles import Profile
from inferstack.plan.workload import Length, Slo

CONFIG = """\
model_groups:
  default:
    deployments:
      - api_base: http://127.0.0.1:8000/v1
        model: gemma-3-270m
      - api_base: http://127.0.0.1:8001/v1
  other:
    deployments:
      - api_base: http://127.0.0.1:9000/v1
        output_cost_per_million: 5.0
"""


def _plan(toy: Profile, rate: float):  # type: ignore[no-untyped-def]
    (option,) = pool_options([toy], load_prices())
    return plan_pool(
        option,
        rate,
        Length(kind="fixed", a=10),
        Length(kind="fixed", a=50),
        Slo(ttft_ms=5000, itl_ms=200),
    )


def test_per_token_price_lands_in_the_group_and_the_gateway_charges_it(
    tmp_path: Path, toy: Profile
) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(CONFIG)
    os.chmod(cfg, 0o600)
    plan = _plan(toy, 1.0)
    price = deployment_price(plan, 1.0, 50)
    out = tmp_path / "priced.yaml"
    write_gateway_prices(cfg, "default", price, out)
    assert out.stat().st_mode & 0o777 == 0o600
    settings = GatewaySettings.from_sources(str(out))
    deps = settings.model_groups["default"].deployments
    assert [d.output_cost_per_million for d in deps] == [price.output_cost_per_million] * 2
    assert settings.model_groups["other"].deployments[0].output_cost_per_million == 5.0
    # A million output tokens served at the planned load cost what the pool costs for them.
    expected = plan.usd_per_hour / (1.0 * 50 * 3600) * 1e6
    cost = request_cost(deps[0], Usage(prompt_tokens=10, completion_tokens=1_000_000), 1.0)
    assert cost == pytest.approx(expected, rel=1e-5)


def test_per_second_price_adds_up_to_the_replica_cost(tmp_path: Path, toy: Profile) -> None:
    plan = _plan(toy, 1.0)
    e2e = 2.0
    price = deployment_price(plan, 1.0, 50, mean_e2e_s=e2e, mode="per-second")
    # Requests in flight per replica x seconds: one hour of traffic costs the pool's hour.
    requests_per_hour = 1.0 * 3600
    assert requests_per_hour * e2e * price.cost_per_second == pytest.approx(plan.usd_per_hour)
    cfg = tmp_path / "g.yaml"
    cfg.write_text(CONFIG)
    data = write_gateway_prices(cfg, "default", price)
    assert data["model_groups"]["default"]["deployments"][0]["cost_per_second"] > 0
    assert yaml.safe_load(cfg.read_text()) == data


def test_unknown_group_and_unpriced_pool_are_refused(tmp_path: Path, toy: Profile) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text(CONFIG)
    price = deployment_price(_plan(toy, 1.0), 1.0, 50)
    with pytest.raises(ValueError, match="no model group 'chat'"):
        write_gateway_prices(cfg, "chat", price)
    unpriced = _plan(toy.model_copy(update={"instance": None}), 1.0)
    with pytest.raises(ValueError, match="no price"):
        deployment_price(unpriced, 1.0, 50)
