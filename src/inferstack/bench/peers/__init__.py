"""Comparison peers started on 127.0.0.1: llama.cpp's ``llama-server``, the reference design
(one request at a time), LiteLLM's proxy, inferstack's own gateway, and ``echo`` (a fast fake
OpenAI upstream for measuring gateways). Benchmark tooling only, never part of the product."""

from __future__ import annotations

import logging

from inferstack.bench.peers.base import Peer, PeerError, cache_dir, default_model_path, free_port
from inferstack.bench.peers.echo import echo_server
from inferstack.bench.peers.gateway import gateway_proxy
from inferstack.bench.peers.inferstack_server import inferstack_server
from inferstack.bench.peers.litellm import ensure_litellm, litellm_proxy
from inferstack.bench.peers.llama_server import ensure_llama_server, llama_server
from inferstack.bench.peers.reference import reference_server

__all__ = [
    "PEER_KINDS",
    "Peer",
    "PeerError",
    "cache_dir",
    "default_model_path",
    "echo_server",
    "ensure_litellm",
    "ensure_llama_server",
    "free_port",
    "gateway_proxy",
    "inferstack_server",
    "litellm_proxy",
    "llama_server",
    "make_peer",
    "reference_server",
]

log = logging.getLogger(__name__)


PEER_KINDS = ("inferstack", "reference", "llama-server", "litellm", "gateway", "echo")


def make_peer(
    kind: str,
    *,
    model: str = "default",
    port: int = 0,
    threads: int = 2,
    parallel: int = 16,
    ctx_per_seq: int = 2048,
    upstream: str | None = None,
    extra_args: list[str] | None = None,
) -> Peer:
    """A peer of ``kind`` (see :data:`PEER_KINDS`), not yet started.

    All peers get the same model, threads and context per sequence, so a comparison is fair;
    ``parallel`` is the slot count of the servers that batch (inferstack, llama-server).
    The gateways (litellm, gateway) proxy ``model`` (``default``: the upstream's first model
    id) to ``upstream``; ``echo`` takes its own flags (``--tokens N``) in ``extra_args``.
    """
    if kind in ("litellm", "gateway"):
        if not upstream:
            raise PeerError(f"{kind} needs --upstream, the OpenAI base URL it proxies to")
        proxy = litellm_proxy if kind == "litellm" else gateway_proxy
        return proxy(upstream, port, model)
    if kind == "echo":
        return echo_server(port, extra_args=extra_args)
    if kind == "inferstack":
        return inferstack_server(model, port, threads, parallel, ctx_per_seq, extra_args)
    model_path = default_model_path() if model == "default" else model
    if kind == "llama-server":
        return llama_server(model_path, port, threads, parallel, ctx_per_seq, extra_args)
    if kind == "reference":
        return reference_server(model_path, port, threads, ctx_per_seq)
    raise PeerError(f"unknown peer {kind!r}; choose from {', '.join(PEER_KINDS)}")
