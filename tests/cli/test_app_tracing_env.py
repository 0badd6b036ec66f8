"""``inferstack rag serve``, ``agents serve`` and ``idp serve`` trace as every process of the stack
does: the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_HEADERS`` /
``OTEL_SERVICE_NAME`` variables turn export on, and each continues an incoming traceparent.
Real processes, a real OTLP/HTTP receiver; no model is needed for these requests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.otlp import OtlpReceiver
from support.servers import free_port

TRACE = "1bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@contextmanager
def _serving(argv: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "inferstack.cli.main", *argv, "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_app_services_export_to_the_standard_otlp_variables(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERSTACK_"))}
    nowhere = "http://127.0.0.1:9/v1"  # no model is called
    rag = ["--embedding-model", "m", "--chat-model", "m", "--state-dir", str(tmp_path / "rag")]
    apps = {
        "rag": (
            ["rag", "serve", "--url", nowhere, *rag],
            ("POST", "/v1/rag/retrieve", {"query": "anything", "mode": "bm25"}),
        ),
        "agents": (
            [
                "agents",
                "serve",
                "--url",
                nowhere,
                "--database",
                f"sqlite+aiosqlite:///{tmp_path}/a.db",
            ],
            ("GET", "/status", None),
        ),
        "idp": (
            ["idp", "serve", "--state-dir", str(tmp_path / "idp")],
            ("GET", "/v1/idp/documents", None),
        ),
    }
    with OtlpReceiver() as receiver:
        for name, (argv, (method, path, body)) in apps.items():
            env = {
                **base,
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=e2e%20test",
                "OTEL_SERVICE_NAME": f"svc-{name}",
            }
            with _serving(argv, env, tmp_path / f"{name}.log") as url:
                r = httpx.request(
                    method,
                    url + path,
                    json=body,
                    headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
                    timeout=60,
                )
                assert r.status_code == 200, (name, r.text)
            # stopped: the process exported what it had on shutdown
            [server] = [
                s
                for s in receiver.spans()
                if s.service == f"svc-{name}" and s.parent_span_id == PARENT
            ]
            assert (server.name, server.trace_id) == (f"{method} {path}", TRACE), name
    assert receiver.requests
    for req in receiver.requests:
        assert req.path == "/v1/traces"
        assert req.headers["x-tenant"] == "e2e test"
    rag_spans = {s.name for s in receiver.spans() if s.service == "svc-rag"}
    assert "retrieval inferstack_rag" in rag_spans
