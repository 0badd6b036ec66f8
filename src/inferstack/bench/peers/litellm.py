"""LiteLLM's proxy as a benchmark peer, in its own virtual environment.

It proxies one model name to an OpenAI-compatible upstream (for example inferstack's server),
which measures what a gateway in front of the server costs. No database, no virtual keys
(those need Prisma engines that cannot be downloaded here).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from inferstack.bench.peers.base import Peer, PeerError, cache_dir, free_port

__all__ = [
    "LITELLM_VERSION",
    "ensure_litellm",
    "litellm_config",
    "litellm_proxy",
    "litellm_venv",
    "upstream_model_id",
]

log = logging.getLogger(__name__)

# Pinned: a peer measured in CI must be the same program every run (LiteLLM 1.107.0 was a
# compromised release; 1.110.x needs a litellm-proxy package the index lacks).
LITELLM_VERSION = "1.108.7"
LITELLM_REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"


def litellm_venv() -> Path:
    """The peer's own virtual environment, one per pinned version."""
    return cache_dir() / f"litellm-{LITELLM_VERSION}-venv"


def ensure_litellm() -> Path:
    """The ``litellm`` command of the peer's own venv, creating and installing it if needed."""
    venv = litellm_venv()
    exe = venv / "bin" / "litellm"
    if exe.is_file():
        return exe
    log.info("installing %s into %s", LITELLM_REQUIREMENT, venv)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", LITELLM_REQUIREMENT],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PeerError(f"installing LiteLLM failed: {exc}") from exc
    if not exe.is_file():
        raise PeerError(f"{exe} missing after installing {LITELLM_REQUIREMENT}")
    return exe


def litellm_config(upstream_base_url: str, model: str = "default") -> str:
    """The proxy's YAML config (JSON is valid YAML): ``model`` → the upstream's ``model``."""
    entry = {
        "model_name": model,
        "litellm_params": {
            "model": f"openai/{model}",
            "api_base": upstream_base_url,
            "api_key": "none",
        },
    }
    return json.dumps({"model_list": [entry], "litellm_settings": {"drop_params": True}}, indent=2)


def upstream_model_id(upstream_base_url: str) -> str | None:
    """The first model id the upstream lists at ``/models``, if it answers."""
    try:
        data = httpx.get(upstream_base_url.rstrip("/") + "/models", timeout=10).json()["data"]
        return str(data[0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        return None


def litellm_proxy(upstream_base_url: str, port: int = 0, model: str = "default") -> Peer:
    """A (not yet started) LiteLLM proxy on 127.0.0.1 in front of ``upstream_base_url``.

    With ``model`` left at ``default`` the proxy serves the upstream's own first model id.
    """
    if model == "default":
        model = upstream_model_id(upstream_base_url) or model
    port = port or free_port()
    config = cache_dir() / f"litellm-{port}.yaml"
    config.write_text(litellm_config(upstream_base_url, model), encoding="utf-8")
    exe = str(ensure_litellm())
    cmd = [exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    # LiteLLM refuses to start without a master key: a fresh random one per start, never stored.
    key = f"sk-{secrets.token_hex(24)}"
    env = {**os.environ, "LITELLM_MASTER_KEY": key}
    log_path = cache_dir() / f"litellm-{port}.log"
    return Peer("litellm", cmd, port, "/health/liveliness", log_path, env=env, api_key=key)
