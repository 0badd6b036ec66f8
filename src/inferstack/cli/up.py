"""``inferstack up``: the local stack on 127.0.0.1 — chat and embedding model servers (uvicorn
or Ray Serve) behind the gateway, and optionally the RAG, agent and IDP services — recorded in
``STATE_DIR/stack.json``."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.cli import up_apps, up_rag
from inferstack.config import default_state_dir

__all__ = ["add_parser", "run"]

STOP_GRACE_S = 20.0
"""Seconds the stack's processes get, all together, to stop after SIGTERM before a kill."""

EXAMPLE = """\
curl -s {base_url}/chat/completions -H 'Content-Type: application/json' \\
  -H 'Authorization: Bearer {key}' \\
  -d '{{"model": "{model}",
       "messages": [{{"role": "user", "content": "What is the capital of France?"}}]}}'"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "up",
        help="run the local stack: model servers and the gateway on 127.0.0.1",
        description="Start the local stack, print its URLs and a key, and record them in "
        "STATE_DIR/stack.json.",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where stack.json, keys, the gateway database and logs go (default: ~/.inferstack)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the gateway binds (default: 127.0.0.1); the model servers, which take no "
        "key, always stay on 127.0.0.1",
    )
    p.add_argument("--chat-model", default="default", help="chat model (default: default)")
    p.add_argument(
        "--embedding-model",
        default="default-embedding",
        help="embedding model (default: default-embedding); 'none' to skip",
    )
    p.add_argument("--chat-port", type=int, default=8000, help="chat server port (default: 8000)")
    p.add_argument(
        "--embedding-port", type=int, default=8001, help="embedding server port (default: 8001)"
    )
    p.add_argument("--gateway-port", type=int, default=4000, help="gateway port (default: 4000)")
    p.add_argument("--no-gateway", action="store_true", help="start the model servers only")
    p.add_argument(
        "--ray",
        action="store_true",
        help="host the model servers on a local Ray Serve instead of uvicorn",
    )
    p.add_argument(
        "--max-ongoing",
        type=int,
        default=None,
        help="with --ray: requests one replica runs at once (default 32)",
    )
    p.add_argument(
        "--max-queued",
        type=int,
        default=None,
        help="with --ray: requests waiting beyond those before a 429 (default 64)",
    )
    p.add_argument("--parallel", type=int, default=None, help="chat sequences decoded together")
    p.add_argument("--ctx-size", type=int, default=None, help="chat context per sequence")
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for each server to load (default: 600)",
    )
    p.add_argument(
        "--observability",
        action="store_true",
        help="also start Phoenix (traces) and Prometheus (metrics of every process)",
    )
    p.add_argument("--phoenix-port", type=int, default=6006, help="Phoenix port (default: 6006)")
    p.add_argument(
        "--prometheus-port", type=int, default=9090, help="Prometheus port (default: 9090)"
    )
    up_rag.add_arguments(p)
    up_apps.add_arguments(p)
    p.set_defaults(func=run)


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    state: Path
    processes: list[Process] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of every process started (tracing settings)."""

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        """``inferstack <argv>`` with the stack's environment and ``env`` (this process's)."""
        log = self.state / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "inferstack.cli.main", *argv]
        environ = {**os.environ, **self.env, **(env or {})}
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=environ)
        return self.adopt(name, proc, log)

    def adopt(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> Process:
        """Own a process started elsewhere: stopped with the stack."""
        process = Process(name, proc, log)
        self.processes.append(process)
        return process

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask every process to stop (SIGTERM), give them ``grace_s`` seconds in all, then kill
        the ones still running, saying which."""
        for p in self.processes:
            if p.process.poll() is None:
                p.process.terminate()
        deadline = time.monotonic() + grace_s
        for p in self.processes:
            try:
                p.process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                print(f"{p.name} did not stop within {grace_s:g} s; killed it", file=sys.stderr)
                p.process.kill()
                p.process.wait()


def _wait_ready(process: Process, url: str, timeout: float) -> dict[str, Any]:
    """Poll ``url`` until it answers 200; return its JSON body."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise SystemExit(f"{process.name} exited; see {process.log}")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                is_json = r.headers.get("content-type", "").startswith("application/json")
                body: dict[str, Any] = r.json() if is_json else {}
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{process.name} not ready after {timeout:.0f} s; see {process.log}")


_LOOPBACK = "127.0.0.1"

SCRAPED = ("chat", "embeddings", "gateway", "rag", "agents", "idp")
"""The processes of the stack that serve Prometheus metrics on ``/metrics`` (Milvus Lite's
server does not)."""


def server_host(args: argparse.Namespace) -> str:
    """Where the model servers listen: behind the gateway always loopback, because they take
    no key; ``--host`` then only moves the gateway. Without the gateway, only loopback."""
    if args.no_gateway and args.host != _LOOPBACK:
        raise SystemExit(
            f"--host {args.host} with --no-gateway would put keyless model servers on the "
            "network; run the gateway in front of them (drop --no-gateway)"
        )
    return _LOOPBACK


def _model_servers(args: argparse.Namespace, stack: Stack) -> dict[str, dict[str, Any]]:
    """Start the model servers; return name → {url, base_url, model}."""
    host = server_host(args)
    wanted = {"chat": (args.chat_model, args.chat_port, "llamacpp")}
    if args.embedding_model != "none":
        wanted["embeddings"] = (args.embedding_model, args.embedding_port, "embeddings")
    if args.ray:
        from inferstack.cli.ray_config import local_serve_config, write_config

        config = local_serve_config(
            wanted,
            host=host,
            port=args.chat_port,
            parallel=args.parallel,
            ctx_size=args.ctx_size,
            max_ongoing=args.max_ongoing,
            max_queued=args.max_queued,
        )
        path = write_config(config, args.state_dir / "serve.yaml")
        process = stack.start("ray-serve", ["serve", "--ray", str(path)])
        urls = {
            name: f"http://{host}:{args.chat_port}{app['route_prefix'].rstrip('/')}"
            for name, app in zip(wanted, config["applications"], strict=True)
        }
        procs = dict.fromkeys(wanted, process)
    else:
        urls, procs = {}, {}
        for name, (model, port, _engine) in wanted.items():
            argv = ["serve", "--model", model, "--host", host, "--port", str(port)]
            if name == "chat" and args.parallel:
                argv += ["--parallel", str(args.parallel)]
            if name == "chat" and args.ctx_size:
                argv += ["--ctx-size", str(args.ctx_size)]
            procs[name] = stack.start(name, argv)
            urls[name] = f"http://{host}:{port}"
    record = {}
    for name, url in urls.items():
        ready = _wait_ready(procs[name], f"{url}/ready", args.ready_timeout)
        record[name] = {
            "url": url,
            "base_url": f"{url}/v1",
            "model": ready["model"],
            "pid": procs[name].process.pid,
            "log": str(procs[name].log),
        }
    return record


_CAPABILITIES = {
    "chat": ["chat", "completions", "tools", "json_schema"],
    "embeddings": ["embeddings"],
}
"""What each of the stack's model servers does, for the gateway's /v1/models."""


def _gateway(
    args: argparse.Namespace, stack: Stack, servers: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Start the gateway in front of the model servers and give the user a virtual key."""
    import httpx
    import yaml

    from inferstack.cli.stack import write_private

    groups = {
        info["model"]: {
            "deployments": [{"api_base": info["base_url"], "model": info["model"]}],
            "capabilities": _CAPABILITIES[name],
        }
        for name, info in servers.items()
    }
    settings: dict[str, Any] = {"model_groups": groups}
    phoenix = stack.env.get("INFERSTACK_TELEMETRY_PHOENIX_URL")
    if phoenix:  # the console's request logs link each request to its trace in Phoenix
        settings["console"] = {"trace_url_template": f"{phoenix}/redirects/traces/{{trace_id}}"}
    config = args.state_dir / "gateway.yaml"
    write_private(config, yaml.safe_dump(settings))
    process = stack.start(
        "gateway",
        [
            "gateway",
            "--config",
            str(config),
            "--host",
            args.host,
            "--port",
            str(args.gateway_port),
            "--state-dir",
            str(args.state_dir),
        ],
    )
    url = f"http://{args.host}:{args.gateway_port}"
    _wait_ready(process, f"{url}/ready", args.ready_timeout)
    master_file = args.state_dir / "master_key"
    master = master_file.read_text().strip()
    r = httpx.post(
        f"{url}/key/generate",
        headers={"Authorization": f"Bearer {master}"},
        json={"metadata": {"created_by": "inferstack up"}},
        timeout=30,
    )
    r.raise_for_status()
    key_file = args.state_dir / "api_key"
    write_private(key_file, r.json()["key"] + "\n")
    return {
        "url": url,
        "base_url": f"{url}/v1",
        "pid": process.process.pid,
        "log": str(process.log),
        "master_key_file": str(master_file),
        "api_key_file": str(key_file),
    }


def run(args: argparse.Namespace) -> int:
    from inferstack.cli.stack import write_stack

    args.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Ctrl-C stops the stack even where SIGINT came ignored (a job started with & by a
    # non-interactive shell inherits SIG_IGN, and Python then never raises KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = Stack(args.state_dir)
    try:
        phoenix = _start_phoenix(args, stack) if args.observability else None
        record: dict[str, Any] = _model_servers(args, stack)
        if not args.no_gateway:
            record["gateway"] = _gateway(args, stack, record)
        path = write_stack(record, args.state_dir)
        if args.rag:
            record.update(up_rag.start_rag(args, stack))
            path = write_stack(record, args.state_dir)
        if args.agents or args.idp:
            record.update(up_apps.start_apps(args, stack, record))
            path = write_stack(record, args.state_dir)
        if phoenix is not None:  # last: Prometheus scrapes every process started above
            record.update(_observability(args, stack, record, phoenix))
            path = write_stack(record, args.state_dir)
        _announce(record, path)
        _wait(stack)
    finally:
        stack.stop()
    return 0


def _start_phoenix(args: argparse.Namespace, stack: Stack) -> Process:
    """Start Phoenix first (it loads while the models do); every later process traces to it."""
    from inferstack.cli import observability as obs

    url = f"http://{args.host}:{args.phoenix_port}"
    log = stack.state / "logs" / "phoenix.log"
    proc = obs.start_phoenix(stack.state, args.host, args.phoenix_port, log, dict(os.environ))
    stack.env.update(obs.tracing_env(url))
    return stack.adopt("phoenix", proc, log)


def _observability(
    args: argparse.Namespace, stack: Stack, record: dict[str, Any], phoenix: Process
) -> dict[str, dict[str, Any]]:
    """Wait for Phoenix, start Prometheus scraping every process of ``record``."""
    from inferstack.cli import observability as obs

    phoenix_url = f"http://{args.host}:{args.phoenix_port}"
    _wait_ready(phoenix, f"{phoenix_url}/healthz", args.ready_timeout)
    targets = {name: f"{info['url']}/metrics" for name, info in record.items() if name in SCRAPED}
    log = stack.state / "logs" / "prometheus.log"
    proc = obs.start_prometheus(stack.state, args.host, args.prometheus_port, targets, log)
    prometheus = stack.adopt("prometheus", proc, log)
    prometheus_url = f"http://{args.host}:{args.prometheus_port}"
    _wait_ready(prometheus, f"{prometheus_url}/-/ready", args.ready_timeout)
    return {
        "phoenix": {"url": phoenix_url, "base_url": phoenix_url, "pid": phoenix.process.pid},
        "prometheus": {
            "url": prometheus_url,
            "base_url": prometheus_url,
            "pid": proc.pid,
            "targets": targets,
        },
    }


def _announce(record: dict[str, Any], path: Path) -> None:
    print("inferstack is up:")
    for name, info in record.items():
        model = f"  (model {info['model']})" if "model" in info else ""
        print(f"  {name:<11} {info['base_url']}{model}")
    print(f"  recorded in {path}")
    gateway = record.get("gateway")
    if gateway:
        key = Path(gateway["api_key_file"]).read_text().strip()
        print(f"\nYour API key (also in {gateway['api_key_file']}, mode 0600): {key}")
        print(f"Master key file: {gateway['master_key_file']}")
        print(f"Web console: {gateway['url']}/ui/ (sign in with either key)")
        example = EXAMPLE.format(
            base_url=gateway["base_url"], key=key, model=record["chat"]["model"]
        )
    else:
        example = EXAMPLE.format(
            base_url=record["chat"]["base_url"], key="unused", model=record["chat"]["model"]
        )
    print("\nTry it:\n" + example)
    print("\nPress Ctrl-C to stop.", flush=True)


def _wait(stack: Stack) -> None:
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    while not stop["now"]:
        for p in stack.processes:
            if p.process.poll() is not None:
                print(f"{p.name} exited; see {p.log}", file=sys.stderr)
                return
        time.sleep(0.5)
