"""Where a running model server spends its time, sampled with py-spy (no restart, no code hooks).

Run it next to a load (for example ``inferstack bench ... --concurrency 16``)::

    python -m inferstack.bench.pyspy --pid PID --duration 20 [--native] [--raw out.txt]

It records ``py-spy record --format raw --threads --idle`` for ``--duration`` seconds and prints,
per thread, the share of samples in which it was busy, and for the busiest stacks their share of
that thread's samples. With ``--native`` the C frames are sampled too, so the share of the
scheduler thread inside ``llama_decode`` (llama.cpp's kernels) can be read off; without it, a
ctypes call shows as the Python line that made it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ThreadProfile", "main", "parse_raw"]

_IDLE_LEAVES = ("select (", "wait (", "_worker (", "get (", "sleep (", "epoll", "poll (")


@dataclass
class ThreadProfile:
    """One thread's samples: all of them, the busy ones, and busy samples per leaf frame."""

    name: str
    samples: int = 0
    busy: int = 0
    leaves: Counter[str] = field(default_factory=Counter)
    inside: Counter[str] = field(default_factory=Counter)
    """Busy samples whose stack contains a frame naming each watched function."""

    def share(self, count: int) -> float:
        return count / self.busy if self.busy else 0.0


def parse_raw(
    text: str, watch: tuple[str, ...] = ("llama_decode", "llama_sampler_sample")
) -> dict[str, ThreadProfile]:
    """Collapsed stacks (``thread (TID): NAME;frame;...;leaf COUNT`` lines, py-spy's raw format
    with ``--threads``) → a profile per thread name. A sample counts as idle when its leaf is a
    wait (select, queue get, condition wait, sleep)."""
    threads: dict[str, ThreadProfile] = {}
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack.startswith("thread (") or not count_text.isdigit():
            continue
        count = int(count_text)
        _, _, named = stack.partition(": ")
        frames = (named or stack).split(";")
        name, leaf = frames[0], frames[-1]
        profile = threads.setdefault(name, ThreadProfile(name))
        profile.samples += count
        if len(frames) == 1 or any(marker in leaf for marker in _IDLE_LEAVES):
            continue
        profile.busy += count
        profile.leaves[leaf] += count
        for function in watch:
            if any(function in frame for frame in frames[1:]):
                profile.inside[function] += count
    return threads


def _report(threads: dict[str, ThreadProfile], top: int) -> str:
    lines = []
    for profile in sorted(threads.values(), key=lambda p: -p.busy):
        if not profile.samples:
            continue
        busy = profile.busy / profile.samples
        lines.append(f"{profile.name}: busy in {busy:.0%} of {profile.samples} samples")
        for function, count in profile.inside.items():
            lines.append(f"  inside {function}: {profile.share(count):.1%} of busy samples")
        for leaf, count in profile.leaves.most_common(top):
            lines.append(f"  {profile.share(count):6.1%}  {leaf}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pid", type=int, required=True, help="the server process")
    parser.add_argument("--duration", type=int, default=20, help="seconds to sample")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--native", action="store_true", help="sample C frames too")
    parser.add_argument("--top", type=int, default=6, help="busiest leaves shown per thread")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw output here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = args.raw or Path(tempfile.mkstemp(prefix="inferstack-pyspy-", suffix=".txt")[1])
    cmd = [
        py_spy, "record", "--pid", str(args.pid), "--duration", str(args.duration),
        "--rate", str(args.rate), "--format", "raw", "--threads", "--idle",
        "--output", str(raw),
    ]  # fmt: skip
    # NOTE: py-spy cannot read native stacks without pausing the process (no --nonblocking).
    cmd.append("--native" if args.native else "--nonblocking")
    subprocess.run(cmd, check=True, capture_output=True)
    print(_report(parse_raw(raw.read_text()), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
