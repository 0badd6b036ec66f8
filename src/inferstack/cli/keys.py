"""``inferstack keys create|list|info|delete``: manage virtual keys on a running gateway."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "keys",
        help="manage the gateway's virtual keys",
        description="Manage virtual keys through a running gateway's admin API (master key).",
    )
    p.add_argument(
        "--url", default=None, help="gateway URL (default: http://HOST:PORT of settings)"
    )
    p.add_argument("--master-key-file", default=None, help="master key file of the gateway")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--alias", default=None)
    create.add_argument("--models", default=None, help="comma-separated model groups allowed")
    create.add_argument("--duration", default=None, help="lifetime, e.g. 3600, 30m, 7d")
    create.add_argument("--max-budget", type=float, default=None, help="spend cap in USD")
    create.add_argument("--budget-duration", default=None, help="budget period, e.g. 30d")
    create.add_argument("--rpm", type=int, default=None, help="requests per minute")
    create.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    create.add_argument("--max-parallel", type=int, default=None, help="requests in flight")
    create.add_argument("--metadata", default=None, help="JSON object of labels")
    lst = actions.add_parser("list", help="list keys")
    lst.add_argument("--all", action="store_true", help="include revoked keys")
    info = actions.add_parser("info", help="show one key")
    info.add_argument("key_id")
    delete = actions.add_parser("delete", help="revoke keys")
    delete.add_argument("key_ids", nargs="+")
    p.set_defaults(func=run)


def _create_body(args: argparse.Namespace) -> dict[str, Any]:
    body = {
        "alias": args.alias,
        "models": args.models.split(",") if args.models else None,
        "duration": args.duration,
        "max_budget": args.max_budget,
        "budget_duration": args.budget_duration,
        "rpm_limit": args.rpm,
        "tpm_limit": args.tpm,
        "max_parallel_requests": args.max_parallel,
        "metadata": json.loads(args.metadata) if args.metadata else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    import httpx

    from inferstack.gateway import GatewaySettings
    from inferstack.gateway.masterkey import read_master_key

    settings = GatewaySettings.from_sources(master_key_file=args.master_key_file)
    if settings.master_key is not None:
        master = settings.master_key.get_secret_value()
    else:
        master = read_master_key(settings.resolved_master_key_file())
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    headers = {"Authorization": f"Bearer {master}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        if args.action == "create":
            response = client.post("/key/generate", json=_create_body(args))
        elif args.action == "list":
            response = client.get("/key/list", params={"include_revoked": args.all})
        elif args.action == "info":
            response = client.get("/key/info", params={"key_id": args.key_id})
        else:
            response = client.post("/key/delete", json={"key_ids": args.key_ids})
    print(json.dumps(response.json(), indent=2))
    return 0 if response.is_success else 1
