"""CPU seconds each thread of a process used while a command ran (from /proc/PID/task/*/stat).

    python docs/benchmarks/thread_cpu.py PID -- inferstack bench --url ... --no-cpu ...

CPU time, unlike wall time, survives other processes' load on a shared machine, so it tells
where a server's work goes (llama.cpp's threads, the event loop, the sampling pool).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

TICK = os.sysconf("SC_CLK_TCK")


def snapshot(pid: int) -> Counter[str]:
    """CPU seconds so far per thread, keyed ``name:tid``."""
    seconds: Counter[str] = Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        seconds[f"{name}:{tid}"] += (int(fields[11]) + int(fields[12])) / TICK
    return seconds


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    pid, command = int(sys.argv[1]), sys.argv[3:]
    before = snapshot(pid)
    code = subprocess.run(command, check=False).returncode
    after = snapshot(pid)
    used = {key: after[key] - before.get(key, 0.0) for key in after}
    for key, value in sorted(used.items(), key=lambda kv: -kv[1]):
        if value >= 0.05:
            print(f"{value:8.2f} s  {key}")
    print(f"{sum(used.values()):8.2f} s  total")
    return code


if __name__ == "__main__":
    sys.exit(main())
