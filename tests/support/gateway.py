"""Starting the real gateway (``inferstack gateway``) in front of a model server, for tests."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from support.servers import free_port

__all__ = ["Gateway", "start_gateway", "stop_gateway", "virtual_key"]


@dataclass
class Gateway:
    url: str
    master: str
    process: subprocess.Popen[bytes]
    log: Path


def start_gateway(
    tmp: Path,
    upstream: str,
    model: str,
    database_url: str | None,
    *,
    timeout_s: float = 120,
    **extra: object,
) -> Gateway:
    """The gateway on a free port with one ``chat`` group over ``upstream``; ``extra`` are
    further top-level config sections (``cache``, ``guardrail``, …)."""
    port = free_port()
    config = {
        "model_groups": {
            "chat": {
                "deployments": [
                    {
                        "api_base": upstream + "/v1",
                        "model": model,
                        "cost_per_second": 0.001,
                        "input_cost_per_million": 0.5,
                        "output_cost_per_million": 1.0,
                    }
                ]
            }
        },
        "router": {"timeout_s": timeout_s},
        **extra,
    }
    if database_url:
        config["database_url"] = database_url
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(config))
    log = tmp / "gateway.log"
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "gateway",
        "--config",
        str(tmp / "gateway.yaml"),
        "--port",
        str(port),
        "--state-dir",
        str(tmp / "state"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                master = (tmp / "state" / "master_key").read_text().strip()
                return Gateway(url, master, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gateway not ready:\n{log.read_text()}")


def stop_gateway(gw: Gateway) -> None:
    gw.process.terminate()
    try:
        gw.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        gw.process.kill()
        gw.process.wait()


def virtual_key(gw: Gateway, models: list[str] | None = None) -> str:
    """A fresh virtual key from the gateway's admin API."""
    admin = httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {gw.master}"})
    body = {"models": models or ["chat"], "max_budget": 100}
    return str(admin.post("/key/generate", json=body).json()["key"])
