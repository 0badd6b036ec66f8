"""``inferstack up --observability``: Phoenix receiving the stack's traces and Prometheus
scraping every process, both on 127.0.0.1.

Phoenix (PyPI ``arize-phoenix``, the ``phoenix`` extra) runs through
:mod:`inferstack.cli.phoenix_serve`, which keeps its OTLP gRPC receiver closed (Phoenix would
bind it on all interfaces); traces arrive over OTLP/HTTP on ``/v1/traces``. Prometheus is the
Debian package's binary, with a config written into the state directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["phoenix_env", "prometheus_config", "start_phoenix", "start_prometheus"]


def phoenix_env(state: Path, host: str, port: int) -> dict[str, str]:
    """Phoenix's settings: loopback, its own working dir, nothing phoned home."""
    return {
        "PHOENIX_HOST": host,
        "PHOENIX_PORT": str(port),
        "PHOENIX_WORKING_DIR": str(state / "phoenix"),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }


def tracing_env(phoenix_url: str) -> dict[str, str]:
    """What every process of the stack needs to send its spans to Phoenix."""
    return {
        "INFERSTACK_TELEMETRY_EXPORTER": "phoenix",
        "INFERSTACK_TELEMETRY_PHOENIX_URL": phoenix_url,
    }


def start_phoenix(
    state: Path, host: str, port: int, log: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "inferstack.cli.phoenix_serve"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, **phoenix_env(state, host, port)},
        )


def prometheus_config(targets: dict[str, str], interval_s: float = 5.0) -> dict[str, Any]:
    """A scrape job per process: ``targets`` maps a job name to the process's metrics URL."""
    jobs = []
    for name, url in targets.items():
        parts = urlsplit(url)
        jobs.append(
            {
                "job_name": name,
                "metrics_path": parts.path or "/metrics",
                "static_configs": [{"targets": [parts.netloc]}],
            }
        )
    return {
        "global": {
            "scrape_interval": f"{interval_s:g}s",
            "evaluation_interval": f"{interval_s:g}s",
        },
        "scrape_configs": jobs,
    }


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise SystemExit(
            "prometheus is not installed (Debian package 'prometheus'; `make system-deps`)"
        )
    return found


def start_prometheus(
    state: Path, host: str, port: int, targets: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    root = state / "prometheus"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(targets), sort_keys=False))
    cmd = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address={host}:{port}",
        "--storage.tsdb.retention.time=1d",
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
