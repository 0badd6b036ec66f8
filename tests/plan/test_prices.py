"""Prices as data: the packaged table, spot, and user overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.plan.prices import Capacity, PriceError, load_prices


def test_packaged_table_covers_the_chart_pools_and_cites_its_source() -> None:
    table = load_prices()
    for family in ("c7g", "c8g", "m8g", "r8g", "c7i", "g5", "g6", "g6e", "p5"):
        assert family in table.families
        assert any(name.startswith(family + ".") for name in table.instances), family
    assert "karpenter-provider-aws" in table.source["reference"]
    assert table.source["generated_at"].startswith("2026-")
    assert table.hourly("c8g.xlarge") == pytest.approx(0.15952)
    assert table.hourly("g5.xlarge") == pytest.approx(1.006)


def test_spot_applies_the_family_discount_and_says_it_is_an_estimate() -> None:
    table = load_prices()
    family = table.family("c8g.xlarge")
    assert family is not None and family.spot_estimate
    spot = table.hourly("c8g.xlarge", Capacity.SPOT)
    assert spot == pytest.approx(0.15952 * (1 - family.spot_discount))


def test_override_file_replaces_entries_one_by_one(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(
        "source: my negotiated rates\n"
        "instances:\n  c8g.xlarge: {on_demand: 0.1}\n  my.box: {vcpus: 2, on_demand: 0.05}\n"
        "families:\n  c8g: {spot_discount: 0.7}\n"
    )
    table = load_prices(f)
    assert table.hourly("c8g.xlarge") == 0.1
    assert table.instances["c8g.xlarge"].vcpus == 4  # kept from the packaged entry
    assert table.hourly("my.box") == 0.05
    assert table.hourly("c8g.xlarge", Capacity.SPOT) == pytest.approx(0.03)
    assert table.hourly("g5.xlarge") == pytest.approx(1.006)
    assert table.source["override"] == "my negotiated rates"


def test_unknown_instance_and_bad_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match=r"no price for instance 'x9\.huge'"):
        load_prices().hourly("x9.huge")
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: []\n")
    with pytest.raises(PriceError, match="expected a mapping"):
        load_prices(bad)
