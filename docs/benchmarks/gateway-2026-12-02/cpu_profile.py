"""Where the gateway's CPU goes per streamed request, sampled on CPU time (not wall time).

    python docs/benchmarks/gateway-2026-12-02/cpu_profile.py REQUESTS OUT.txt

Starts the echo peer and a gateway peer whose process runs under this file's sampler: a
``SIGPROF`` every tick of the process's own CPU time (``ITIMER_PROF``; the kernel's tick, 4 ms
here) records the Python stack. Time the gateway spends preempted (the upstream and the client
share the cores) is not sampled, unlike py-spy's wall-clock samples. Sends ``REQUESTS``
sequential streamed chat requests over one kept connection, stops the gateway with SIGINT and
prints the functions holding the most samples (self, then inclusive); OUT.txt keeps the
collapsed stacks (``frame;frame;... count``).
"""

from __future__ import annotations

import collections
import os
import runpy
import signal
import sys

_counts: collections.Counter[str] = collections.Counter()


def _sample(signum: int, frame: object) -> None:
    stack = []
    while frame is not None:
        code = frame.f_code  # type: ignore[attr-defined]
        where = code.co_filename.split("site-packages/")[-1].split("/src/")[-1]
        stack.append(f"{code.co_qualname} ({where})")
        frame = frame.f_back  # type: ignore[attr-defined]
    _counts[";".join(reversed(stack))] += 1


def _dump() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    with open(os.environ["CPU_PROFILE_OUT"], "w", encoding="utf-8") as f:
        for stack, n in list(_counts.items()):
            f.write(f"{stack} {n}\n")


def profiled_gateway(argv: list[str]) -> None:
    """Run ``python -m MODULE ARGS...`` (``argv``) under the sampler."""
    import atexit

    atexit.register(_dump)
    signal.signal(signal.SIGPROF, _sample)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


def report(path: str, top: int = 30) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if "Runner.run" not in stack:  # start-up and shutdown, not requests
                continue
            frames = stack.split(";")
            total += int(n)
            own[frames[-1]] += int(n)
            for name in set(frames[frames.index(next(x for x in frames if "Runner.run" in x)) :]):
                inclusive[name] += int(n)
    lines = [f"{total} samples while serving", "self:"]
    lines += [f"{100 * n / total:5.1f} % {name}" for name, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"{100 * n / total:5.1f} % {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    import httpx

    from inferstack.bench.peers.echo import echo_server
    from inferstack.bench.peers.gateway import gateway_proxy

    requests, out = int(sys.argv[1]), os.path.abspath(sys.argv[2])
    echo = echo_server().start()
    gateway = gateway_proxy(echo.base_url)
    gateway.cmd[1:2] = [os.path.abspath(__file__), "--profiled"]  # in place of "-m"
    gateway._env["CPU_PROFILE_OUT"] = out  # the gateway process writes it at exit
    gateway.start()
    body = {
        "model": gateway.model,
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 16,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    try:
        auth = {"Authorization": f"Bearer {gateway.api_key}"}
        with httpx.Client(base_url=gateway.base_url, headers=auth) as client:
            for _ in range(requests):
                with client.stream("POST", "/chat/completions", json=body) as response:
                    response.raise_for_status()
                    for _ in response.iter_bytes():
                        pass
    finally:
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGINT)
        gateway.process.wait(60)
        gateway.stop()
        echo.stop()
    print(report(out))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--profiled":
        profiled_gateway(sys.argv[2:])
    else:
        raise SystemExit(main())
