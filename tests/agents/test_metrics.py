"""The agent service's /metrics: runs by stop reason, steps, steps per run, tool calls by tool
and outcome (a tool the agent lacks is ``unknown``), supervisor routes, weather tool calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inferstack.agents.services.app import build_app
from inferstack.agents.settings import AgentSettings, WeatherSettings
from inferstack.agents.tools import Tool
from support.fake_chat import FakeModel, call, text
from support.open_meteo import open_meteo_server
from support.prom import sample


@pytest.fixture(scope="module")
def meteo_url() -> Iterator[str]:
    with open_meteo_server() as (url, _app):
        yield url


def app(tmp_path: Path, model: FakeModel, tools: list[Tool], meteo: str = "") -> TestClient:
    s = AgentSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        weather=WeatherSettings(geocoding_url=f"{meteo}/search", forecast_url=f"{meteo}/forecast"),
    )
    return TestClient(build_app(s, client=model.client(), tools=tools))


def add(a: int, b: int) -> int:
    """Add."""
    return a + b


def remove(name: str) -> str:
    """Remove a thing."""
    return f"removed {name}"


def test_a_run_counts_its_steps_tool_calls_and_stop_reason(tmp_path: Path) -> None:
    model = FakeModel(call("add", a=1, b=2), call("nope"), text("3"))
    with app(tmp_path, model, [Tool.from_function(add)]) as http:
        assert http.post("/query", json={"question": "1+2"}).status_code == 200
        r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = r.text
    assert sample(m, "inferstack_agent_runs_total", agent="agent", stop_reason="stop") == 1
    assert sample(m, "inferstack_agent_steps_total", agent="agent") == 3
    assert sample(m, "inferstack_agent_run_steps_count", agent="agent") == 1
    assert sample(m, "inferstack_agent_run_steps_sum", agent="agent") == 3
    assert sample(m, "inferstack_agent_run_steps_bucket", agent="agent", le="2.0") == 0
    assert sample(m, "inferstack_agent_run_steps_bucket", agent="agent", le="3.0") == 1
    calls = "inferstack_agent_tool_calls_total"
    assert sample(m, calls, agent="agent", tool="add", outcome="ok") == 1
    # the model named a tool the agent does not have: one label value for all such names
    assert sample(m, calls, agent="agent", tool="unknown", outcome="error") == 1
    assert sample(m, "inferstack_agent_tool_duration_seconds_count", tool="add") == 1
    assert sample(m, "inferstack_agent_queries_total", route="tools") == 1


def test_a_paused_run_counts_when_paused_and_when_it_ends(tmp_path: Path) -> None:
    tools = [Tool.from_function(remove, destructive=True)]
    model = FakeModel(call("remove", name="x"), text("Not removed."))
    with app(tmp_path, model, tools) as http:
        paused = http.post("/query", json={"question": "remove x"}).json()
        m = http.get("/metrics").text
        assert sample(m, "inferstack_agent_runs_total", stop_reason="paused") == 1
        assert sample(m, "inferstack_agent_run_steps_count") is None  # not finished
        call_id = paused["pending"][0]["id"]
        r = http.post(f"/runs/{paused['run_id']}/resume", json={"approvals": {call_id: False}})
        assert r.status_code == 200, r.text
        m = http.get("/metrics").text
    assert sample(m, "inferstack_agent_runs_total", stop_reason="stop") == 1
    assert sample(m, "inferstack_agent_run_steps_count") == 1
    assert sample(m, "inferstack_agent_run_steps_sum") == 2  # the whole run: both model calls
    calls = "inferstack_agent_tool_calls_total"
    assert sample(m, calls, tool="remove", outcome="denied") == 1
    assert sample(m, "inferstack_agent_tool_duration_seconds_count", tool="remove") is None


def test_a_failed_model_call_ends_the_run_as_error(tmp_path: Path) -> None:
    with app(tmp_path, FakeModel(), []) as http:  # the script is empty: the model answers 500
        assert http.post("/query", json={"question": "hi"}).status_code == 502
        m = http.get("/metrics").text
    assert sample(m, "inferstack_agent_runs_total", stop_reason="error") == 1
    assert sample(m, "inferstack_agent_queries_total") is None


def test_weather_tool_calls_are_counted(tmp_path: Path, meteo_url: str) -> None:
    model = FakeModel(call("get_current_weather", city="Paris"), text("Mild."))
    with app(tmp_path, model, [], meteo_url) as http:
        r = http.post("/chat", json={"message": "Weather in Paris?", "tool_choice": "required"})
        assert r.status_code == 200, r.text
        m = http.get("/metrics").text
    calls = "inferstack_agent_tool_calls_total"
    assert sample(m, calls, agent="weather", tool="get_current_weather", outcome="ok") == 1
    assert sample(m, "inferstack_agent_tool_duration_seconds_count", agent="weather") == 1
