"""``inferstack mcp``: run a built-in MCP server on its own (stdio by default), or list them."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mcp",
        help="run a built-in MCP server (filesystem, weather, websearch)",
        description="Built-in MCP servers any MCP client can use; stdio unless --http is given.",
    )
    sub = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="run one server")
    serve.add_argument("name", help="server name (see 'inferstack mcp list')")
    serve.add_argument(
        "--root", action="append", type=Path, default=[], help="filesystem root (repeatable)"
    )
    serve.add_argument("--http", type=int, default=None, metavar="PORT", help="streamable HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address for --http")
    serve.set_defaults(func=run)
    listing = sub.add_parser("list", help="the servers available with the current settings")
    listing.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inferstack.agents.mcp.servers.registry import BuiltinOptions, available, build
    from inferstack.agents.settings import AgentSettings

    settings = AgentSettings()
    if args.mcp_command == "list":
        for name in available(settings):
            print(name)
        return 0
    try:
        server = build(args.name, BuiltinOptions(roots=args.root, settings=settings))
    except ValueError as exc:
        raise SystemExit(f"inferstack mcp serve: {exc}") from exc
    if args.http is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.http)
    return 0
