"""The console page-load benchmark on a small generated database: every page renders in the
real browser on both the empty and the filled database, and the report has its numbers."""

from __future__ import annotations

import asyncio

import pytest

from inferstack.bench.console_data import DataSpec
from inferstack.bench.console_pages import PAGES, run

pytestmark = pytest.mark.e2e


def test_every_page_loads_on_an_empty_and_a_filled_database() -> None:
    spec = DataSpec(requests=2_000, keys=30, users=10, teams=3, days=2, audit=50)
    result = asyncio.run(run(spec, loads=1))
    assert [row["page"] for row in result["pages"]] == PAGES
    for row in result["pages"]:
        assert 0 < row["empty_p95_ms"] < 60_000 and 0 < row["p95_ms"] < 60_000
