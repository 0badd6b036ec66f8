"""``inferstack up``: the local stack (chat and embedding model servers) on 127.0.0.1."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from inferstack.config import default_state_dir

__all__ = ["add_parser", "run"]

EXAMPLE = """\
curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' \\
  -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "What is the capital of France?"}}]}}'"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "up",
        help="run the local stack: chat and embedding model servers on 127.0.0.1",
        description="Start the local stack, print its URLs and record them in STATE_DIR/stack.json.",
    )
    p.add_argument("--state-dir", type=Path, default=default_state_dir(),
                   help="where stack.json and logs go (default: ~/.inferstack)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--chat-model", default="default", help="chat model (default: default)")
    p.add_argument("--embedding-model", default="default-embedding",
                   help="embedding model (default: default-embedding); 'none' to skip")
    p.add_argument("--chat-port", type=int, default=8000, help="chat server port (default: 8000)")
    p.add_argument("--embedding-port", type=int, default=8001,
                   help="embedding server port (default: 8001)")
    p.add_argument("--parallel", type=int, default=None, help="chat sequences decoded together")
    p.add_argument("--ctx-size", type=int, default=None, help="chat context per sequence")
    p.add_argument("--ready-timeout", type=float, default=600.0,
                   help="seconds to wait for each server to load (default: 600)")
    p.set_defaults(func=run)


@dataclass
class Service:
    name: str
    model: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _start(name: str, argv: list[str], url: str, model: str, logs: Path) -> Service:
    log = logs / f"{name}.log"
    cmd = [sys.executable, "-m", "inferstack.cli.main", *argv]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    return Service(name, model, url, proc, log)


def _wait_ready(service: Service, timeout: float) -> str:
    """Wait for /ready; return the served model id."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise SystemExit(f"{service.name} server exited; see {service.log}")
        try:
            r = httpx.get(f"{service.url}/ready", timeout=2)
            if r.status_code == 200:
                return str(r.json()["model"])
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{service.name} server not ready after {timeout:.0f} s; see {service.log}")


def run(args: argparse.Namespace) -> int:
    from inferstack.cli.stack import write_stack

    state: Path = args.state_dir
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    chat_argv = ["serve", "--model", args.chat_model, "--host", args.host,
                 "--port", str(args.chat_port)]
    if args.parallel:
        chat_argv += ["--parallel", str(args.parallel)]
    if args.ctx_size:
        chat_argv += ["--ctx-size", str(args.ctx_size)]
    services = [_start("chat", chat_argv, f"http://{args.host}:{args.chat_port}",
                       args.chat_model, logs)]
    if args.embedding_model != "none":
        emb_argv = ["serve", "--model", args.embedding_model, "--host", args.host,
                    "--port", str(args.embedding_port)]
        services.append(_start("embeddings", emb_argv,
                               f"http://{args.host}:{args.embedding_port}",
                               args.embedding_model, logs))
    try:
        record: dict[str, object] = {}
        for service in services:
            served = _wait_ready(service, args.ready_timeout)
            record[service.name] = {"url": service.url, "base_url": f"{service.url}/v1",
                                    "model": served, "pid": service.process.pid,
                                    "log": str(service.log)}
        path = write_stack(record, state)
        _announce(record, path)
        _wait_forever(services)
    finally:
        _stop(services)
    return 0


def _announce(record: dict[str, object], path: Path) -> None:
    print("inferstack is up:")
    for name, info in record.items():
        assert isinstance(info, dict)
        print(f"  {name:<11} {info['base_url']}  (model {info['model']})")
    print(f"  recorded in {path}")
    chat = record["chat"]
    assert isinstance(chat, dict)
    print("\nTry it:\n" + EXAMPLE.format(url=chat["url"], model=chat["model"]))
    print("\nPress Ctrl-C to stop.", flush=True)


def _wait_forever(services: list[Service]) -> None:
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    while not stop["now"]:
        for service in services:
            if service.process.poll() is not None:
                print(f"{service.name} server exited; see {service.log}", file=sys.stderr)
                return
        time.sleep(0.5)


def _stop(services: list[Service]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.terminate()
    for service in services:
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
