"""Instance prices as data: the packaged table (``plan/data/prices.yaml``, with its source and
date) and a user file that overrides it instance by instance. Never fetched at run time."""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Capacity", "FamilyInfo", "InstancePrice", "PriceError", "PriceTable", "load_prices"]


class PriceError(ValueError):
    """An instance has no price, or a price file is malformed."""


class Capacity(StrEnum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FamilyInfo(_Strict):
    arch: str = Field(description="arm64 or x86_64")
    kind: str = Field(description="cpu or gpu")
    gpu: str | None = Field(default=None, description="GPU model of the family")
    spot_discount: float = Field(ge=0, lt=1, description="fraction off on-demand for spot")
    spot_estimate: bool = Field(default=True, description="the discount is an estimate")


class InstancePrice(_Strict):
    vcpus: int = Field(ge=1)
    gpus: int = Field(default=0, ge=0)
    on_demand: float = Field(gt=0, description="USD per instance-hour")
    estimate: bool = Field(default=False, description="the price is an estimate, not a quote")
    source: str | None = Field(default=None, description="where this price comes from")


class PriceTable(_Strict):
    source: dict[str, str] = Field(default_factory=dict, description="where the prices come from")
    families: dict[str, FamilyInfo] = Field(default_factory=dict)
    instances: dict[str, InstancePrice] = Field(default_factory=dict)

    def family(self, instance: str) -> FamilyInfo | None:
        return self.families.get(instance.split(".", 1)[0])

    def hourly(self, instance: str, capacity: Capacity = Capacity.ON_DEMAND) -> float:
        """USD per hour of one ``instance`` bought as ``capacity``."""
        price = self.instances.get(instance)
        if price is None:
            raise PriceError(
                f"no price for instance {instance!r}; add it to a --prices file "
                "(instances: {NAME: {vcpus: N, on_demand: USD}})"
            )
        if capacity is Capacity.SPOT:
            family = self.family(instance)
            if family is None:
                raise PriceError(f"no spot discount for the family of {instance!r}")
            return price.on_demand * (1.0 - family.spot_discount)
        return price.on_demand

    def merged(self, other: dict[str, Any]) -> PriceTable:
        """This table with ``other``'s families and instances replacing ours one by one."""
        data = self.model_dump()
        for key in ("families", "instances"):
            for name, value in (other.get(key) or {}).items():
                base = data[key].get(name, {})
                data[key][name] = {**base, **value}
        if other.get("source"):
            data["source"] = {**data["source"], "override": str(other["source"])}
        return PriceTable.model_validate(data)


def _packaged() -> dict[str, Any]:
    text = resources.files("inferstack.plan").joinpath("data/prices.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_prices(override: str | Path | None = None) -> PriceTable:
    """The packaged price table, with the entries of ``override`` (a YAML file) on top."""
    table = PriceTable.model_validate(_packaged())
    if override is None:
        return table
    try:
        data = yaml.safe_load(Path(override).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PriceError(f"{override}: {exc}") from exc
    if not isinstance(data, dict) or not set(data) <= {"source", "families", "instances"}:
        raise PriceError(f"{override}: expected a mapping with families and/or instances")
    try:
        return table.merged(data)
    except ValueError as exc:
        raise PriceError(f"{override}: {exc}") from exc
