"""inferstack's gateway as a benchmark peer (``inferstack gateway`` in a subprocess).

It proxies one model group to an OpenAI-compatible upstream, like the LiteLLM peer, so the
two gateways can be measured against the same upstream (and against the upstream directly).
Each start gets a fresh temporary state directory (SQLite database, config), a fresh random
master key passed in the environment (never stored), and one virtual key created through
``POST /key/generate``: the bench sends that virtual key, so every request goes through key
lookup, limits and spend accounting as in production. Only the command line is used: the
bench never imports the gateway package.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

from inferstack.bench.peers.base import Peer, PeerError, cache_dir, free_port
from inferstack.bench.peers.litellm import upstream_model_id

__all__ = ["GatewayPeer", "gateway_config", "gateway_proxy"]

log = logging.getLogger(__name__)


def gateway_config(upstream_base_url: str, model: str) -> str:
    """The gateway's YAML config (JSON is valid YAML): group ``model`` → the upstream."""
    group = {"deployments": [{"api_base": upstream_base_url, "model": model}]}
    return json.dumps({"model_groups": {model: group}}, indent=2)


class GatewayPeer(Peer):
    """A gateway peer: after start, :attr:`api_key` is a fresh virtual key; stop removes its
    state directory."""

    def __init__(
        self, cmd: list[str], port: int, log_path: Path, env: dict[str, str],
        master_key: str, model: str, state_dir: Path,
    ) -> None:  # fmt: skip
        super().__init__("gateway", cmd, port, "/ready", log_path, env=env)
        self.model, self.state_dir = model, state_dir
        self._master_key = master_key

    def start(self, timeout_s: float = 180.0) -> GatewayPeer:
        try:
            super().start(timeout_s)
        except PeerError:
            self.stop()  # removes the state directory of a gateway that exited
            raise
        try:
            reply = httpx.post(
                self.url + "/key/generate",
                json={"alias": "bench", "models": [self.model]},
                headers={"Authorization": f"Bearer {self._master_key}"},
                timeout=30.0,
            )
            reply.raise_for_status()
            self.api_key = str(reply.json()["key"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.stop()
            raise PeerError(f"gateway: creating a virtual key failed: {exc}") from exc
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        try:
            super().stop(timeout_s)
        finally:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def gateway_proxy(upstream_base_url: str, port: int = 0, model: str = "default") -> GatewayPeer:
    """A (not yet started) ``inferstack gateway`` on 127.0.0.1 in front of ``upstream_base_url``.

    With ``model`` left at ``default`` the group is named after the upstream's first model id,
    so the gateway serves the same model name as the upstream (and the LiteLLM peer).
    """
    if model == "default":
        model = upstream_model_id(upstream_base_url) or model
    port = port or free_port()
    state_dir = Path(tempfile.mkdtemp(prefix=f"inferstack-bench-gateway-{port}-"))
    config = state_dir / "gateway.yaml"
    config.write_text(gateway_config(upstream_base_url, model), encoding="utf-8")
    cmd = [
        sys.executable, "-m", "inferstack.cli.main", "gateway",
        "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
        "--state-dir", str(state_dir),
    ]  # fmt: skip
    # Like the LiteLLM peer: a fresh random master key per start, in the environment only.
    master_key = f"sk-master-{secrets.token_urlsafe(32)}"
    # The user's own INFERSTACK_GATEWAY_* settings (a database URL, say) are left out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERSTACK_GATEWAY_")}
    env["INFERSTACK_GATEWAY_MASTER_KEY"] = master_key
    log_path = cache_dir() / f"gateway-{port}.log"
    return GatewayPeer(cmd, port, log_path, env, master_key, model, state_dir)
