"""`inferstack up --ray` end to end: the stack on a local Ray Serve behind the gateway, every
listener of it (the Serve proxy, and Ray's GCS, raylet, agents and workers) on loopback only,
and an overloaded application shedding with 429 instead of queueing."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from support.servers import free_port
from support.services import wait_until

pytestmark = pytest.mark.e2e


def _logs(root: Path) -> str:
    """Every log the stack wrote (up's own and each server's), for a failure message."""
    return "\n".join(
        f"== {p}\n{p.read_text(errors='replace')[-4000:]}" for p in root.rglob("*.log")
    )


def _reap(stack_file: Path) -> None:
    """End the Serve process if `up` left it behind (it must not outlive the test)."""
    if not stack_file.exists():
        return
    for info in json.loads(stack_file.read_text()).values():
        pid = int(info.get("pid", 0))
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from ``ss``, as ``ip:port``)."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    return [f[3] for line in out.splitlines() if (f := line.split()) and f[3].endswith(f":{port}")]


def _tree_listeners(pid: int) -> list[tuple[str, str]]:
    """``(address, process)`` of every TCP listener of process ``pid`` and its descendants
    (from ``ss -ltnp``: Ray's GCS and raylet are the driver's children, its agents and
    workers the raylet's)."""
    root = psutil.Process(pid)
    pids = {pid, *(child.pid for child in root.children(recursive=True))}
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        users = fields[5] if len(fields) > 5 else ""
        if any(f"pid={p}," in users for p in pids):
            found.append((fields[3], users))
    return found


def _loopback(address: str) -> bool:
    """Whether ``ip:port`` from ``ss`` is a loopback address (``[::ffff:127.0.0.1]`` too)."""
    host = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # "*": every interface
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


async def _burst(url: str, model: str, n: int) -> list[httpx.Response]:
    body = {
        "model": model,
        "max_tokens": 48,
        "stream": True,
        "messages": [{"role": "user", "content": "Count from one to fifty."}],
    }
    async with httpx.AsyncClient(timeout=300) as client:

        async def one() -> httpx.Response:
            async with client.stream("POST", url, json=body) as response:
                await response.aread()
                return response

        return list(await asyncio.gather(*(one() for _ in range(n))))


def test_up_ray_serves_behind_the_gateway_and_sheds_with_429(tmp_path: Path) -> None:
    state = tmp_path / "state"
    chat_port, gateway_port = free_port(), free_port()
    log_path = tmp_path / "up.log"
    cmd = [
        sys.executable, "-m", "inferstack.cli.main", "up", "--ray",
        "--state-dir", str(state), "--chat-port", str(chat_port),
        "--gateway-port", str(gateway_port), "--embedding-model", "none",
        "--parallel", "1", "--ctx-size", "512", "--max-ongoing", "1", "--max-queued", "1",
    ]  # fmt: skip
    # A busy CI box can take longer than Serve's 5 s to ready the proxy actor; that is not
    # what this test checks.
    env = {**os.environ, "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "120"}
    env["RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S"] = "60"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        stack_file = state / "stack.json"
        deadline = time.monotonic() + 400
        while not stack_file.exists():
            assert proc.poll() is None, _logs(tmp_path)
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.5)
        stack = json.loads(stack_file.read_text())
        assert set(stack) == {"chat", "gateway"}
        serve_cfg = (state / "serve.yaml").read_text()
        assert "max_queued_requests: 1" in serve_cfg

        # Through the gateway with the key `up` made, like a user would.
        key = Path(stack["gateway"]["api_key_file"]).read_text().strip()
        client = openai.OpenAI(base_url=stack["gateway"]["base_url"], api_key=key, max_retries=0)
        reply = client.chat.completions.create(
            model=stack["chat"]["model"],
            max_tokens=8,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )
        assert reply.choices[0].message.content

        # The Serve proxy binds loopback only, and so does everything else of the stack: Ray's
        # GCS, raylet, dashboard and runtime-env agents, and its workers' gRPC servers.
        addresses = _listening(chat_port)
        assert addresses and all(a.startswith("127.0.0.1:") for a in addresses), addresses
        listeners = _tree_listeners(proc.pid)
        assert f"127.0.0.1:{chat_port}" in [a for a, _ in listeners], listeners
        assert len(listeners) > 5, listeners  # Ray's own services are among them
        wide = [(a, users) for a, users in listeners if not _loopback(a)]
        assert not wide, wide

        # One running, one queued: the rest of a burst of six is shed at once with 429.
        url = f"{stack['chat']['base_url']}/chat/completions"
        responses = asyncio.run(_burst(url, stack["chat"]["model"], 6))
        codes = sorted(r.status_code for r in responses)
        assert codes.count(200) >= 1 and codes.count(429) >= 3, codes
        assert set(codes) <= {200, 429}, codes
        shed = next(r for r in responses if r.status_code == 429)
        assert shed.headers.get("retry-after") == "1"
        # Shedding kept nothing: once the burst is over a request is served again. (Straight to
        # Serve: the gateway's own health probes were shed during the burst, and they still
        # take the one running place now and then, so a 429 is retried after its Retry-After.)
        body = {"model": stack["chat"]["model"], "max_tokens": 4}
        body["messages"] = [{"role": "user", "content": "Hello"}]
        deadline = time.monotonic() + 120
        while True:
            r = httpx.post(url, json=body, timeout=120)
            if r.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(float(r.headers.get("retry-after", "1")))
        assert r.status_code == 200, r.text
        again = openai.types.chat.ChatCompletion.model_validate(r.json())
        assert again.choices[0].finish_reason in ("stop", "length")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=180)  # Ray and Serve take a while to stop on a busy box
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _reap(state / "stack.json")
    # NOTE: on a loaded 2-core box `up --ray` did not always stop within 180 s of SIGINT
    # (Serve's shutdown waits on its controller), so the exit code is not asserted; what must
    # hold is that nothing of the stack is left serving.
    wait_until(lambda: not _listening(chat_port), 120, "the Serve proxy to close")
