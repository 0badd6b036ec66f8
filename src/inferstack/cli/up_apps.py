"""``inferstack up --agents --idp``: the agent service and the IDP service beside the stack, on
127.0.0.1, talking to the stack's gateway (or its chat server without one) with the stack's
key, each recorded in ``stack.json``, scraped by Prometheus and traced to Phoenix under
``--observability`` like every other process.

The key reaches them through their environment (``INFERSTACK_AGENTS_API_KEY``,
``OPENAI_API_KEY`` for the IDP service), never their command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.cli.up import Stack

__all__ = ["add_arguments", "start_apps"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--agents",
        action="store_true",
        help="also serve the agent service (/query, /chat, /weather; with --rag its knowledge "
        "base is the RAG service)",
    )
    p.add_argument(
        "--agents-port", type=int, default=8300, help="agent service port (default: 8300)"
    )
    p.add_argument(
        "--idp", action="store_true", help="also serve the IDP service (/v1/idp/documents)"
    )
    p.add_argument("--idp-port", type=int, default=8400, help="IDP service port (default: 8400)")


def _models(record: dict[str, Any]) -> tuple[str, str, str | None]:
    """The base URL, chat model and key the apps use: the gateway's when it runs."""
    gateway = record.get("gateway")
    model = str(record["chat"]["model"])
    if gateway:
        key = Path(gateway["api_key_file"]).read_text().strip()
        return str(gateway["base_url"]), model, key
    return str(record["chat"]["base_url"]), model, None


def _agents(args: argparse.Namespace, stack: Stack, record: dict[str, Any]) -> dict[str, Any]:
    from inferstack.cli.up import _LOOPBACK, _wait_ready

    base_url, model, key = _models(record)
    root = stack.state / "agents"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    argv = ["agents", "serve", "--host", _LOOPBACK, "--port", str(args.agents_port)]
    argv += ["--url", base_url, "--model", model]
    argv += ["--database", f"sqlite+aiosqlite:///{root / 'agents.db'}"]
    env = {"INFERSTACK_AGENTS_API_KEY": key} if key else {}
    if "rag" in record:
        env["INFERSTACK_AGENTS_RAG_URL"] = record["rag"]["url"]
    process = stack.start("agents", argv, env=env)
    url = f"http://{_LOOPBACK}:{args.agents_port}"
    _wait_ready(process, f"{url}/health", args.ready_timeout)
    return {"url": url, "base_url": url, "pid": process.process.pid, "log": str(process.log)}


def _idp(args: argparse.Namespace, stack: Stack, record: dict[str, Any]) -> dict[str, Any]:
    from inferstack.cli.up import _LOOPBACK, _wait_ready

    base_url, model, key = _models(record)
    root = stack.state / "idp"
    argv = ["idp", "serve", "--host", _LOOPBACK, "--port", str(args.idp_port)]
    argv += ["--url", base_url, "--chat-model", model, "--state-dir", str(root)]
    process = stack.start("idp", argv, env={"OPENAI_API_KEY": key} if key else {})
    url = f"http://{_LOOPBACK}:{args.idp_port}"
    _wait_ready(process, f"{url}/health", args.ready_timeout)
    return {
        "url": url,
        "base_url": f"{url}/v1/idp",
        "pid": process.process.pid,
        "log": str(process.log),
        "state_dir": str(root),
    }


def start_apps(
    args: argparse.Namespace, stack: Stack, record: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Start the app services asked for (``record`` already names the models, and the RAG
    service when ``--rag`` started it)."""
    started: dict[str, dict[str, Any]] = {}
    if args.agents:
        started["agents"] = _agents(args, stack, record)
    if args.idp:
        started["idp"] = _idp(args, stack, record)
    return started
