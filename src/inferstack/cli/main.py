"""Entry point of the ``inferstack`` command.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers the subcommand and sets ``func`` to its runner
(``run(args) -> int``). Modules import their heavy dependencies inside ``run`` so that
``inferstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (
    "serve",
    "up",
    "models",
    "chat",
    "bench",
    "deploy",
    "gateway",
    "keys",
    "ingest",
    "ask",
    "rag",
    "plan",
    "mcp",
    "agent",
    "agents",
    "idp",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inferstack",
        description="Cost-effective LLM inference: model servers, gateway and tools.",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"inferstack.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from inferstack.errors import InferstackError

    try:
        return int(args.func(args) or 0)
    except InferstackError as exc:
        print(f"inferstack {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
