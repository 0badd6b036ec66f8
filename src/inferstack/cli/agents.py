"""``inferstack agents serve``: the agent REST service and the weather function-calling API."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "agents",
        help="the agent service (POST /query, /chat, GET /weather/*, /health, /status)",
        description="Agent services; settings also come from INFERSTACK_AGENTS_* variables.",
    )
    sub = p.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve the agent REST API")
    serve.add_argument("--config", type=Path, default=None, help="YAML settings file")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8300)")
    serve.add_argument("--url", dest="base_url", default=None, help="gateway/model base URL")
    serve.add_argument("--model", default=None, help="chat model")
    serve.add_argument("--database", dest="database_url", default=None, help="sessions DB URL")
    serve.add_argument(
        "--mcp", action="append", default=None, metavar="SPEC", help="MCP server (repeatable)"
    )
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from inferstack.agents.services.app import build_app
    from inferstack.agents.settings import AgentSettings

    settings = AgentSettings.from_sources(
        args.config,
        host=args.host,
        port=args.port,
        base_url=args.base_url,
        model=args.model,
        database_url=args.database_url,
        mcp_servers=args.mcp,
    )
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0
