"""Share of py-spy samples under each direct callee of a function, from ``--format raw`` output.

Run: ``python docs/benchmarks/gateway-2026-12-01/pyspy_children.py PROFILE.raw Runner.run``
(``Runner.run``'s own samples are mostly the idle event loop; its callees are the busy work).
"""

from __future__ import annotations

import collections
import sys


def children(path: str, target: str) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if not stack:
                continue
            total += int(n)
            frames = [frame.split(" (")[0] for frame in stack.split(";")]
            if target in frames:
                i = frames.index(target)
                counts[frames[i + 1] if i + 1 < len(frames) else "<self>"] += int(n)
    return [(name, 100 * n / total) for name, n in counts.most_common(25)]


if __name__ == "__main__":
    for name, share in children(sys.argv[1], sys.argv[2]):
        print(f"{share:5.1f}% {name}")
