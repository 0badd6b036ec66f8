"""``inferstack up --agents --idp`` starts the real agent and IDP service processes on
127.0.0.1 against the stack's gateway, with the stack's key in their environment (never on
their command line), and records them; the models are not needed for them to come up."""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
import psutil

from inferstack.cli import up_apps
from inferstack.cli.up import SCRAPED, Stack
from support.servers import free_port


def test_the_app_services_start_on_loopback_with_the_key_in_their_environment(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("sk-stack-key\n")
    record = {
        "chat": {"model": "default", "base_url": "http://127.0.0.1:1/v1"},
        "gateway": {"base_url": "http://127.0.0.1:2/v1", "api_key_file": str(key_file)},
        "rag": {"url": "http://127.0.0.1:3"},
    }
    args = argparse.Namespace(
        agents=True, idp=True, agents_port=free_port(), idp_port=free_port(), ready_timeout=120
    )
    stack = Stack(tmp_path)
    try:
        started = up_apps.start_apps(args, stack, record)
        assert set(started) == {"agents", "idp"} and set(started) <= set(SCRAPED)
        assert started["agents"]["url"] == f"http://127.0.0.1:{args.agents_port}"
        assert started["idp"]["base_url"] == f"http://127.0.0.1:{args.idp_port}/v1/idp"
        for name, info in started.items():
            assert httpx.get(f"{info['url']}/metrics", timeout=10).status_code == 200
            proc = psutil.Process(info["pid"])
            assert "sk-stack-key" not in " ".join(proc.cmdline())
            listening = [
                c.laddr for c in proc.net_connections("inet") if c.status == psutil.CONN_LISTEN
            ]
            assert [a.ip for a in listening] == ["127.0.0.1"], name
        agents = psutil.Process(started["agents"]["pid"])
        env = agents.environ()
        assert env["INFERSTACK_AGENTS_API_KEY"] == "sk-stack-key"
        assert env["INFERSTACK_AGENTS_RAG_URL"] == "http://127.0.0.1:3"
        assert "http://127.0.0.1:2/v1" in agents.cmdline()  # the gateway, not the chat server
        assert psutil.Process(started["idp"]["pid"]).environ()["OPENAI_API_KEY"] == "sk-stack-key"
        assert (tmp_path / "idp").is_dir()
    finally:
        stack.stop()
