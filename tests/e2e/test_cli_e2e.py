"""The `inferstack up` stack and the terminal chat, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from support.servers import RunningServer, free_port

pytestmark = pytest.mark.e2e


def _chat_in_pty(args: list[str], line: str) -> str:
    """Run ``inferstack chat ARGS`` on a pseudo-terminal, say ``line``, leave; the screen."""
    import pty
    import select

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferstack.cli.main", "chat", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    screen = b""

    def read_until(marker: bytes, count: int, deadline: float) -> None:
        nonlocal screen
        while screen.count(marker) < count and time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if ready:
                try:
                    screen += os.read(main, 4096)
                except OSError:
                    return

    deadline = time.monotonic() + 300
    read_until(b"you> ", 1, deadline)
    os.write(main, line.encode() + b"\n")
    read_until(b"you> ", 2, deadline)
    os.write(main, b"/exit\n")
    proc.wait(timeout=60)
    os.close(main)
    return screen.decode(errors="replace").replace("\r", "")


def test_chat_command_streams_an_answer(chat_server: RunningServer) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferstack.cli.main",
            "chat",
            "--url",
            chat_server.base_url,
            "--max-tokens",
            "8",
            "--temperature",
            "0",
        ],
        input="What is the capital of France?\n/exit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"chatting with {chat_server.model}" in result.stdout
    answer = result.stdout.split("assistant> ", 1)[1].split("\n", 1)[0]
    assert answer.strip()


def test_up_serves_the_stack_behind_the_gateway(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ports = {name: free_port() for name in ("chat", "embedding", "gateway")}
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferstack.cli.main",
            "up",
            "--state-dir",
            str(state),
            "--chat-port",
            str(ports["chat"]),
            "--embedding-port",
            str(ports["embedding"]),
            "--gateway-port",
            str(ports["gateway"]),
            "--parallel",
            "2",
            "--ctx-size",
            "1024",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        stack_file = state / "stack.json"
        deadline = time.monotonic() + 300
        while not stack_file.exists():
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.5)
        stack = json.loads(stack_file.read_text())
        assert os.stat(stack_file).st_mode & 0o777 == 0o600
        assert set(stack) == {"chat", "embeddings", "gateway"}
        gateway = stack["gateway"]
        assert os.stat(gateway["master_key_file"]).st_mode & 0o777 == 0o600
        key = Path(gateway["api_key_file"]).read_text().strip()

        client = openai.OpenAI(base_url=gateway["base_url"], api_key=key, max_retries=0)
        models = {m.id for m in client.models.list().data}
        assert models == {stack["chat"]["model"], stack["embeddings"]["model"]}
        reply = client.chat.completions.create(
            model=stack["chat"]["model"],
            max_tokens=8,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )
        assert reply.choices[0].message.content
        vectors = client.embeddings.create(model=stack["embeddings"]["model"], input="hello")
        assert len(vectors.data[0].embedding) == 384
        denied = httpx.get(f"{gateway['base_url']}/models")  # no key
        assert denied.status_code == 401
        printed = (tmp_path / "up.log").read_text()
        assert key in printed and "Try it:" in printed
        listed = httpx.get(
            f"{gateway['base_url']}/models", headers={"Authorization": f"Bearer {key}"}
        ).json()["data"]
        assert {m["id"]: "chat" in m["capabilities"] for m in listed} == {
            stack["chat"]["model"]: True,
            stack["embeddings"]["model"]: False,
        }
        screen = _chat_in_pty(["--state-dir", str(state), "--max-tokens", "8"], "Hello!")
        assert f"chatting with {stack['chat']['model']}" in screen
        assert "[error]" not in screen and "HTTP Request" not in screen, screen
        assert screen.split("assistant> ", 1)[1].split("\n", 1)[0].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130), (tmp_path / "up.log").read_text()[-2000:]
