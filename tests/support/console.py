"""The console tests' gateway: the real app (SQLite in tmp) with the console mounted, in memory,
over a fake upstream that answers every chat with "hello"."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from inferstack.gateway import GatewaySettings, build_gateway_app

MASTER = "sk-master-console-" + secrets.token_hex(8)


def upstream(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        return httpx.Response(200, json={"object": "list", "data": []})
    body = json.loads(request.content)
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    message = {"role": "assistant", "content": "hello"}
    return httpx.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        },
    )


def console_settings(tmp_path: Path, **console: Any) -> GatewaySettings:
    return GatewaySettings(
        state_dir=tmp_path,
        model_groups={"chat": {"deployments": [{"api_base": "http://a/v1", "model": "m"}]}},
        health_check={"enabled": False},
        key_cache_ttl_s=0,
        console=console,
    )


def console_app(tmp_path: Path, **console: Any) -> Any:
    return build_gateway_app(
        console_settings(tmp_path, **console),
        master_key=MASTER,
        transport=httpx.MockTransport(upstream),
    )


async def virtual_key(client: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    answer = await client.post(
        "/key/generate", json=spec, headers={"Authorization": f"Bearer {MASTER}"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())
