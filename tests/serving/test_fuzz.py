"""Property-based fuzzing of every route, in memory with the fake engine: a few thousand
generated and mutated requests; any 5xx, any 4xx that is not an OpenAI error body, any
malformed 200 fails (see tests/support/fuzz.py). The same strategies run briefly against the
real model in tests/e2e/test_fuzz_e2e.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServerSettings
from support.fake_engine import FakeEngine
from support.fuzz import ROUTES, Route, check_answer, request_bodies

EXAMPLES = 700
"""Requests per route (five routes): 3,500 in all."""

SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    app = build_app(ServerSettings(max_body_bytes=64 * 1024, max_waiting=64), FakeEngine())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("route", ROUTES("fake"), ids=lambda r: r.path)
def test_no_request_gets_a_server_error(
    route: Route, fuzz_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=request_bodies(route))
    def one(body: bytes) -> None:
        r = fuzz_client.post(route.path, content=body, headers={"content-type": "application/json"})
        SEEN[f"{route.path} {r.status_code}"] += 1
        check_answer(route, r.status_code, r.headers.get("content-type", ""), r.content)

    one()
    with capsys.disabled():
        statuses = {k.split()[1]: v for k, v in SEEN.items() if k.startswith(route.path + " ")}
        print(f"\n[fuzz] {route.path}: {sum(statuses.values())} requests, by status {statuses}")
