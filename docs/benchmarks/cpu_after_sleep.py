"""Is a CPU slower right after the process slept? A single-threaded numpy loop times twelve
~5 ms chunks of work right after a pause of 0, 0.1, 0.3 and 1 s (0: after ten more chunks),
eight rounds interleaved, and prints the median time of each chunk per pause. No server
involved: it separates "the machine wakes slowly" from anything inferstack does.

    .venv/bin/python docs/benchmarks/cpu_after_sleep.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# NOTE: the thread limits above must be set before numpy loads its BLAS.
import statistics
import time

import numpy as np

A = np.random.default_rng(0).random((300, 300), dtype=np.float32)


def chunk() -> float:
    """Milliseconds for ten 300x300 matrix products."""
    t = time.perf_counter()
    for _ in range(10):
        A @ A
    return (time.perf_counter() - t) * 1000


def main() -> None:
    for _ in range(50):
        chunk()
    runs: dict[float, list[list[float]]] = {}
    for _ in range(8):
        for pause in (0.0, 0.1, 0.3, 1.0):
            if pause:
                time.sleep(pause)
            else:
                for _ in range(10):
                    chunk()
            runs.setdefault(pause, []).append([chunk() for _ in range(12)])
    for pause, rows in runs.items():
        medians = [round(statistics.median(col), 2) for col in zip(*rows, strict=True)]
        print(f"after {pause} s asleep, ms per chunk: {medians}")


if __name__ == "__main__":
    main()
