"""``inferstack gateway``: the OpenAI-compatible gateway in front of model servers."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gateway",
        help="run the gateway (routing, virtual keys, budgets, limits, usage)",
        description=(
            "Run the gateway. Model groups, routing, cache and guardrail come from a YAML "
            "file (--config) or INFERSTACK_GATEWAY_* variables. On first start it generates "
            "the master key, prints it once and stores it with mode 0600."
        ),
    )
    p.add_argument("--config", default=None, help="YAML settings file")
    p.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: 4000)")
    p.add_argument("--state-dir", default=None, help="where the key file and SQLite DB live")
    p.add_argument("--database-url", default=None, help="SQLAlchemy async database URL")
    p.add_argument("--redis-url", default=None, help="Redis for limits shared by replicas")
    p.add_argument("--master-key-file", default=None, help="master key file (mode 0600)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # NOTE: httpx logs every upstream request at INFO: a log line per proxied request
        # (the gateway's own metrics and spend logs count them); kept with --log-level DEBUG.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    from inferstack.gateway import GatewaySettings, build_gateway_app, ensure_master_key

    settings = GatewaySettings.from_sources(
        args.config,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        master_key_file=args.master_key_file,
    )
    master_key = None
    if settings.master_key is None:
        path = settings.resolved_master_key_file()
        master_key, created = ensure_master_key(path)
        if created:
            # NOTE: shown once, and only on a terminal: when stderr is a file (a log, a pod's
            # stdout) the key would be written to it, so only the key file is named there.
            if sys.stderr.isatty():
                notice = f"gateway master key (shown once, stored in {path}):\n  {master_key}"
            else:
                notice = f"generated a gateway master key in {path} (mode 0600)"
            print(notice, file=sys.stderr, flush=True)
    app = build_gateway_app(settings, master_key=master_key)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0
