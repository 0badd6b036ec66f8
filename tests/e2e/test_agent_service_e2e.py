"""``inferstack agents serve`` and ``inferstack agent`` on the real default model through the
real gateway: weather function calling against the local Open-Meteo stand-in, the supervisor's
route, the filesystem MCP server over stdio, status and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.gateway import Gateway, start_gateway, stop_gateway, virtual_key
from support.open_meteo import CITIES, expected_temperature, open_meteo_server
from support.servers import RunningServer, free_port
from support.services import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(
    chat_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gw = start_gateway(
        tmp_path_factory.mktemp("gw"), chat_server.url, chat_server.model, None, timeout_s=600
    )
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def meteo() -> Iterator[str]:
    with open_meteo_server() as (url, _app):
        yield url


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sandbox")
    (root / "todo.txt").write_text("water the plants\n")
    return root


@pytest.fixture(scope="module")
def service(gateway: Gateway, meteo: str, sandbox: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("agents")
    port = free_port()
    env = {
        **os.environ,
        "INFERSTACK_AGENTS_API_KEY": virtual_key(gateway),
        "INFERSTACK_AGENTS_WEATHER__GEOCODING_URL": f"{meteo}/search",
        "INFERSTACK_AGENTS_WEATHER__FORECAST_URL": f"{meteo}/forecast",
        "INFERSTACK_AGENTS_REQUEST_TIMEOUT": "600",
        "INFERSTACK_AGENTS_LIMITS__MAX_STEPS": "2",
        "INFERSTACK_AGENTS_LIMITS__STEP_MAX_TOKENS": "96",
    }
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "agents",
        "serve",
        "--port",
        str(port),
        "--url",
        gateway.url + "/v1",
        "--model",
        "chat",
        "--database",
        f"sqlite+aiosqlite:///{tmp / 'agents.db'}",
        "--mcp",
        f"builtin:filesystem:{sandbox}",
    ]
    log = tmp / "agents.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 120, "agent service")
    yield httpx.Client(base_url=url, timeout=900)
    proc.terminate()
    proc.wait(timeout=30)


def test_weather_chat_calls_the_tool(service: httpx.Client) -> None:
    r = service.post(
        "/chat",
        json={"message": "What is the weather in Paris right now?", "tool_choice": "required"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    (call,) = body["tool_calls"]
    assert call["name"] in ("get_current_weather", "get_forecast")
    city = call["arguments"]["city"]
    if call["is_error"]:
        assert city.strip().lower() not in CITIES
    elif call["name"] == "get_current_weather":
        assert call["result"]["temperature"] == expected_temperature(city)
    assert isinstance(body["answer"], str) and body["usage"]["total_tokens"] > 0


def test_weather_endpoints_and_status(service: httpx.Client) -> None:
    now = service.get("/weather/current", params={"city": "Oslo"})
    assert now.status_code == 200 and now.json()["temperature"] == expected_temperature("oslo")
    assert service.get("/weather/current", params={"city": "Atlantis"}).status_code == 404
    status = service.get("/status").json()
    assert status["model_available"] is True
    assert {"read_file", "write_file", "list_directory", "search_files"} <= set(status["tools"])
    bad = service.post("/query", json={"question": ""})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "question"


def test_query_route_is_visible(service: httpx.Client) -> None:
    r = service.post("/query", json={"question": "What is in todo.txt?", "stream": True})
    assert r.status_code == 200
    events = [
        json.loads(line[6:])
        for line in r.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert r.text.rstrip().endswith("data: [DONE]")
    reply = events[-1]
    assert reply["type"] == "reply"
    assert [s["step"] for s in reply["route"]] == ["knowledge_check", "tool_agent"]
    assert [e["step"] for e in events if e["type"] == "route"] == ["knowledge_check", "tool_agent"]
    assert reply["steps"] <= 2 and reply["reason"] in ("stop", "max_steps", "paused")


def test_cli_agent_one_off(gateway: Gateway, sandbox: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "agent",
        "--url",
        gateway.url + "/v1",
        "--api-key",
        virtual_key(gateway),
        "--model",
        "chat",
        "--root",
        str(sandbox),
        "--tool-choice",
        "list_directory",
        "--max-steps",
        "1",
        "--json",
        "--state-dir",
        str(tmp_path),
        "List the files.",
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["reason"] == "max_steps" and final["steps"] == 1
    (result,) = final["tool_results"]
    assert result["name"] == "list_directory"
    if not result["is_error"]:
        assert "todo.txt" in result["output"]
    assert "[step 1] list_directory" in done.stderr
