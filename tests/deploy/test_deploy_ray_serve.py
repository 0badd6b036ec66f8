"""Ray Serve end to end: one Serve config file deployed on a local Ray, queried with the openai
SDK, scaled from 1 to 2 replicas by changing the file, then shut down."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from inferstack.deploy.serve_config import serve_config_errors
from inferstack.serving.ray_app import IMPORT_PATH, deploy_config

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def local_ray() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    from ray import serve

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


def _config(port: int, replicas: int) -> dict[str, Any]:
    return {
        "http_options": {"host": "127.0.0.1", "port": port},
        "applications": [
            {
                "name": "chat",
                "route_prefix": "/",
                "import_path": IMPORT_PATH,
                "args": {
                    "model": "default",
                    "engine": "llamacpp",
                    "threads": 1,
                    "ctx_size": 512,
                    "parallel": 2,
                    "num_replicas": replicas,
                    "max_ongoing_requests": 8,
                    "ray_actor_options": {"num_cpus": 1},
                },
            }
        ],
    }


def _running_replicas() -> int:
    from ray import serve

    app = serve.status().applications.get("chat")
    if app is None:
        return 0
    return sum(d.replica_states.get("RUNNING", 0) for d in app.deployments.values())


def _wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_serve_config_runs_locally_and_scales(local_ray: None, tmp_path: Path) -> None:
    port = _free_port()
    config_file = tmp_path / "serve.yaml"
    config_file.write_text(yaml.safe_dump(_config(port, replicas=1)))
    assert serve_config_errors(config_file.read_text()) == []  # what CI checks for the chart

    assert deploy_config(config_file) == ["chat"]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    model = client.models.list().data[0].id
    first = client.completions.create(
        model=model, prompt="Q: What is the capital of France?\nA:", max_tokens=8, temperature=0
    )
    assert first.choices[0].text.strip()
    assert _running_replicas() == 1

    config_file.write_text(yaml.safe_dump(_config(port, replicas=2)))
    deploy_config(config_file)
    _wait_for(lambda: _running_replicas() == 2, 300, "two running replicas")

    # Each replica's server records its own start time in /v1/models: seeing two distinct
    # values means both replicas answered.
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(client.models.list().data[0].created)
    assert len(seen) == 2, f"only one replica answered: {seen}"
    again = client.completions.create(
        model=model, prompt="Q: What is the capital of France?\nA:", max_tokens=8, temperature=0
    )
    assert again.choices[0].text.strip()
