"""The weather function-calling service: /chat on the tools API, /weather/*, real status codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inferstack.agents.services.app import build_app
from inferstack.agents.settings import AgentSettings, WeatherSettings
from support.fake_chat import FakeModel, call, text
from support.open_meteo import expected_temperature, open_meteo_server


@pytest.fixture(scope="module")
def meteo_url() -> Iterator[str]:
    with open_meteo_server() as (url, _app):
        yield url


def settings(tmp_path: Path, meteo_url: str) -> AgentSettings:
    return AgentSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        weather=WeatherSettings(
            geocoding_url=f"{meteo_url}/search", forecast_url=f"{meteo_url}/forecast"
        ),
    )


@pytest.fixture
def service(tmp_path: Path, meteo_url: str):
    def make(model: FakeModel) -> TestClient:
        return TestClient(build_app(settings(tmp_path, meteo_url), client=model.client()))

    return make


def test_chat_calls_the_weather_tool(service) -> None:
    model = FakeModel(call("get_current_weather", city="Paris"), text("It is mild in Paris."))
    with service(model) as http:
        r = http.post("/chat", json={"message": "Weather in Paris?", "tool_choice": "required"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == "It is mild in Paris."
    (tool_call,) = body["tool_calls"]
    assert tool_call["name"] == "get_current_weather" and not tool_call["is_error"]
    assert tool_call["result"]["temperature"] == expected_temperature("paris")
    assert body["usage"]["total_tokens"] > 0
    first, second = model.requests
    assert first["tool_choice"] == "required" and second["tool_choice"] == "none"
    assert {t["function"]["name"] for t in first["tools"]} == {
        "get_current_weather",
        "get_forecast",
    }
    assert second["messages"][-1]["role"] == "tool"


def test_chat_accepts_messages_and_named_choice(service) -> None:
    model = FakeModel(call("get_forecast", city="Atlantis", days=2), text("No such place."))
    messages = [{"role": "user", "content": "Forecast for Atlantis?"}]
    with service(model) as http:
        r = http.post("/chat", json={"messages": messages, "tool_choice": "get_forecast"})
    assert r.status_code == 200
    assert model.requests[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_forecast"},
    }
    (tool_call,) = r.json()["tool_calls"]
    assert tool_call["is_error"] and "Atlantis" in tool_call["output"]


def test_client_mistakes_are_4xx(service) -> None:
    with service(FakeModel()) as http:
        both = http.post(
            "/chat", json={"message": "a", "messages": [{"role": "user", "content": "b"}]}
        )
        assert both.status_code == 400 and both.json()["error"]["type"] == "invalid_request_error"
        bad_role = http.post("/chat", json={"messages": [{"role": "system", "content": "x"}]})
        assert bad_role.status_code == 400 and bad_role.json()["error"]["param"] == "messages.0"
        choice = http.post("/chat", json={"message": "x", "tool_choice": "launch"})
        assert choice.status_code == 400 and choice.json()["error"]["param"] == "tool_choice"
        assert http.post("/chat", content=b"{").status_code == 400
        missing = http.get("/weather/current", params={"city": "Atlantis"})
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "city"
        days = http.get("/weather/forecast", params={"city": "Oslo", "days": 40})
        assert days.status_code == 400 and days.json()["error"]["param"] == "days"
        assert http.get("/weather/current").status_code == 400


def test_model_failure_is_502(service) -> None:
    with service(FakeModel()) as http:  # the script is empty: the model answers 500
        r = http.post("/chat", json={"message": "Weather in Oslo?"})
    assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"


def test_weather_endpoints(service) -> None:
    with service(FakeModel()) as http:
        now = http.get("/weather/current", params={"city": "Tokyo", "unit": "fahrenheit"})
        assert now.status_code == 200
        assert now.json()["temperature"] == expected_temperature("tokyo", "fahrenheit")
        fc = http.get("/weather/forecast", params={"city": "Lima", "days": 2})
        assert fc.status_code == 200 and len(fc.json()["days"]) == 2
        assert http.get("/health").json() == {"status": "ok"}


def test_each_model_call_of_chat_is_a_chat_span(tmp_path: Path, meteo_url: str) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from inferstack.telemetry import Telemetry, TelemetrySettings

    exporter = InMemorySpanExporter()
    tel = Telemetry.from_settings(TelemetrySettings(), service_name="agents", exporter=exporter)
    model = FakeModel(call("get_current_weather", city="Paris"), text("It is mild in Paris."))
    app = build_app(settings(tmp_path, meteo_url), client=model.client(), telemetry=tel)
    with TestClient(app) as http:
        r = http.post("/chat", json={"message": "Weather in Paris?", "tool_choice": "required"})
    assert r.status_code == 200, r.text
    tel.flush()
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.name == "POST /chat"]
    chats = [s for s in spans if s.name == f"chat {settings(tmp_path, meteo_url).model}"]
    assert len(chats) == 2  # the tool call, then the answer from its result
    assert all(c.parent and c.parent.span_id == server.context.span_id for c in chats)
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [
        ("tool_calls",),
        ("stop",),
    ]
    tel.shutdown()
