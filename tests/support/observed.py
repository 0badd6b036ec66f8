"""Helpers of the observability e2e tests: the stack ``inferstack up --observability`` runs,
spans read back from Phoenix's REST API and walked as a tree, extra gateway processes,
waiting without sleeps."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from support.servers import free_port

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Stack:
    record: dict[str, Any]
    log: Path
    key: str
    state: Path

    @property
    def model(self) -> str:
        return str(self.record["chat"]["model"])

    def chat(self, base_url: str, key: str, traceparent: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        if traceparent:
            headers["traceparent"] = traceparent
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 4,
            "temperature": 0,
        }
        return httpx.post(f"{base_url}/chat/completions", json=body, headers=headers, timeout=120)


@dataclass
class ExtraGateway:
    base_url: str
    url: str
    master: str
    process: subprocess.Popen[bytes]


def start_gateway(stack: Stack, root: Path, env: dict[str, str]) -> ExtraGateway:
    """Another `inferstack gateway` process in front of the stack's chat server."""
    root.mkdir(parents=True, exist_ok=True)
    chat = stack.record["chat"]
    config = root / "gateway.yaml"
    groups = {chat["model"]: {"deployments": [{"api_base": chat["base_url"]}]}}
    config.write_text(yaml.safe_dump({"model_groups": groups}))
    port = free_port()
    argv = [sys.executable, "-m", "inferstack.cli.main", "gateway", "--config", str(config)]
    argv += ["--port", str(port), "--state-dir", str(root)]
    log = (root / "gateway.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (root / "gateway.log").read_text()
        try:
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 120, "the extra gateway")
    master = (root / "master_key").read_text().strip()
    return ExtraGateway(f"{url}/v1", url, master, proc)


def stop(gateway: ExtraGateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


def _value(v: dict[str, Any]) -> Any:
    for field in ("string_value", "int_value", "double_value", "bool_value"):
        if v.get(field) is not None:
            return v[field]
    array = v.get("array_value")
    return [_value(x) for x in array["values"]] if array else None


def phoenix_spans(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    """The spans of ``trace_id`` in Phoenix (OTLP JSON), each with ``attrs`` decoded."""
    url = stack.record["phoenix"]["url"]
    r = httpx.get(
        f"{url}/v1/projects/inferstack/spans/otlpv1",
        params={"trace_id": trace_id, "limit": 100},
        timeout=10,
    )
    if r.status_code != 200:
        return []
    spans: list[dict[str, Any]] = r.json()["data"]
    for s in spans:
        s["attrs"] = {a["key"]: _value(a["value"]) for a in s.get("attributes") or []}
    return spans


def child(spans: list[dict[str, Any]], parent: dict[str, Any], name: str) -> dict[str, Any]:
    """The one span named ``name`` whose parent is ``parent``."""
    found = [s for s in spans if s["name"] == name and s.get("parent_span_id") == parent["span_id"]]
    assert len(found) == 1, (
        name,
        parent["name"],
        [(s["name"], s.get("parent_span_id")) for s in spans],
    )
    return found[0]


def under(spans: list[dict[str, Any]], root: dict[str, Any]) -> list[dict[str, Any]]:
    """Every span below ``root``."""
    ids, below = {root["span_id"]}, []
    for _ in spans:
        more = [s for s in spans if s.get("parent_span_id") in ids and s["span_id"] not in ids]
        ids |= {s["span_id"] for s in more}
        below += more
    return below


def through_the_gateway(
    spans: list[dict[str, Any]], client: dict[str, Any], path: str
) -> list[dict[str, Any]]:
    """``client``'s request, continued by the gateway and a model server: the server's spans."""
    gateway = child(spans, client, f"POST {path}")
    [attempt] = [s for s in under(spans, gateway) if s["name"].startswith("upstream ")]
    server = child(spans, attempt, f"POST {path}")
    return [server, *under(spans, server)]


def phoenix_trace(
    stack: Stack, trace: str, names: set[str], root_parent: str
) -> list[dict[str, Any]]:
    """The spans of ``trace`` once Phoenix holds all of ``names`` and every span's parent (but
    the caller's, ``root_parent``): the processes export on their own schedules, so a server's
    spans may arrive before the gateway span above them. All of one trace."""

    def complete() -> list[dict[str, Any]] | None:
        spans = phoenix_spans(stack, trace)
        ids = {s["span_id"] for s in spans} | {root_parent}
        whole = all(s.get("parent_span_id") in ids for s in spans)
        return spans if whole and names <= {s["name"] for s in spans} else None

    spans = wait_for(complete, 90, f"{sorted(names)} of trace {trace} in Phoenix")
    assert {s["trace_id"] for s in spans} == {trace}
    return spans


def every_query_has_data(prom: str, queries: list[str]) -> None:
    assert queries
    for query in queries:

        def has_data(q: str = query) -> bool:
            r = httpx.get(f"{prom}/api/v1/query", params={"query": q}, timeout=10)
            assert r.status_code == 200, (q, r.text)
            return bool(r.json()["data"]["result"])

        wait_for(has_data, 90, f"data for {query}")
