"""Options every RAG subcommand shares, and finding the models: ``--url`` or the local stack
(``STATE_DIR/stack.json`` written by ``inferstack up``: the gateway when it runs, else the model
servers)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from inferstack.config import default_state_dir

__all__ = ["add_kb_arguments", "rag_settings"]


def add_kb_arguments(p: argparse.ArgumentParser, *, models: bool = True) -> None:
    g = p.add_argument_group("knowledge base")
    g.add_argument("--config", type=Path, default=None, help="RAG settings YAML file")
    g.add_argument(
        "--kb-dir", type=Path, default=None, help="docstore folder (default: STATE_DIR/rag)"
    )
    g.add_argument("--collection", default=None, help="knowledge base name (inferstack_rag)")
    g.add_argument(
        "--store",
        choices=["milvus-lite", "milvus", "pgvector", "opensearch"],
        default=None,
        help="vector store (default: milvus-lite, one file in --kb-dir)",
    )
    g.add_argument("--store-uri", default=None, help="store location (file, URL or DSN)")
    if not models:
        return
    m = p.add_argument_group("models")
    m.add_argument(
        "--url",
        default=None,
        help="OpenAI-compatible base URL for both embeddings and chat (default: the local "
        "stack's gateway from stack.json)",
    )
    m.add_argument("--embedding-url", default=None, help="base URL for /embeddings only")
    m.add_argument("--chat-url", default=None, help="base URL for /chat/completions only")
    m.add_argument("--embedding-model", default=None, help="embedding model id")
    m.add_argument("--chat-model", default=None, help="chat model id")
    m.add_argument(
        "--api-key",
        default=os.environ.get("OPENAI_API_KEY"),
        help="API key (default: $OPENAI_API_KEY, or the stack's key file)",
    )
    m.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where 'inferstack up' recorded the stack (default: ~/.inferstack)",
    )


def _v1(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _endpoints(args: argparse.Namespace) -> dict[str, Any]:
    from inferstack.cli.stack import read_stack

    out: dict[str, Any] = {}
    stack = None if args.url else read_stack(args.state_dir)
    if args.url:
        out["embedding_base_url"] = out["chat_base_url"] = _v1(args.url)
    elif stack:
        gateway = stack.get("gateway")
        for name, key in (("embeddings", "embedding"), ("chat", "chat")):
            entry = stack.get(name) or {}
            base = gateway["base_url"] if gateway else entry.get("base_url")
            if base:
                out[f"{key}_base_url"] = base
            if entry.get("model"):
                out[f"{key}_model"] = entry["model"]
        if gateway and not args.api_key and gateway.get("api_key_file"):
            out["api_key"] = Path(gateway["api_key_file"]).read_text().strip()
    elif not (args.embedding_url and args.chat_url):
        raise SystemExit(
            "no --url given and no local stack found in "
            f"{args.state_dir}/stack.json; run 'inferstack up' or pass --url"
        )
    if args.embedding_url:
        out["embedding_base_url"] = _v1(args.embedding_url)
    if args.chat_url:
        out["chat_base_url"] = _v1(args.chat_url)
    if args.api_key:
        out["api_key"] = args.api_key
    for key in ("embedding_model", "chat_model"):
        if getattr(args, key):
            out[key] = getattr(args, key)
    return out


def _quiet_libraries() -> None:
    # Per-request INFO lines of the HTTP client and the embedded Milvus Lite server (and its
    # gRPC server's report of a probe it does not implement) would drown the progress bar.
    import logging

    for name in ("httpx", "faiss", "faiss.loader", "milvus_lite", "bm25s"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)


def rag_settings(args: argparse.Namespace, *, models: bool = True) -> Any:
    """RagSettings from env, ``--config`` and flags; model endpoints from flags or the stack."""
    _quiet_libraries()
    from inferstack.rag.settings import RagSettings

    overrides: dict[str, Any] = {
        "state_dir": args.kb_dir,
        "collection": args.collection,
        "store": args.store,
        "store_uri": args.store_uri,
    }
    if models:
        overrides.update(_endpoints(args))
        overrides.update(_stack_store(args))
    settings = RagSettings.from_sources(args.config, **overrides)
    if models:
        _fill_models(settings)
    return settings


def _stack_store(args: argparse.Namespace) -> dict[str, Any]:
    """The knowledge base ``inferstack up --rag`` serves (its folder and Milvus server), unless
    flags name another; without it, the folder ``STATE_DIR/rag``."""
    from inferstack.cli.stack import read_stack

    out: dict[str, Any] = {}
    rag = (read_stack(args.state_dir) or {}).get("rag") or {}
    if args.kb_dir is None:
        out["state_dir"] = Path(rag["kb_dir"]) if rag.get("kb_dir") else args.state_dir / "rag"
    if args.store is None and args.store_uri is None and rag.get("store"):
        out["store"], out["store_uri"] = rag["store"], rag["store_uri"]
    return out


def _fill_models(settings: Any) -> None:
    """A model id not given: the server's only model (a model server lists one)."""
    import httpx

    for key, base in (
        ("embedding_model", settings.embedding_base_url),
        ("chat_model", settings.chat_base_url),
    ):
        if key in settings.model_fields_set:
            continue
        headers = {}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        try:
            r = httpx.get(f"{base.rstrip('/')}/models", headers=headers, timeout=10)
            ids = [m["id"] for m in r.json()["data"]] if r.status_code == 200 else []
        except (httpx.HTTPError, ValueError, KeyError):
            ids = []
        if len(ids) == 1:
            setattr(settings, key, ids[0])
