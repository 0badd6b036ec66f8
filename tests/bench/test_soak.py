"""The soak script's bookkeeping: window counts and per-process RSS."""

from __future__ import annotations

import os
import subprocess
import sys

from inferstack.bench.soak import KINDS, Outcome, rss_kib, summarize_window
from support.services import wait_until


def test_window_counts_each_outcome_where_it_belongs() -> None:
    outcomes = [
        Outcome("chat", 0, 200, 0.10),
        Outcome("stream", 0, 200, 0.30),
        Outcome("poison", 0, 400, 0.01),
        Outcome("poison", 0, 200, 0.01),  # accepted poison: a finding
        Outcome("chat", 0, 429, 0.01),  # not poison, yet refused
        Outcome("tools", 0, 502, 0.20),
        Outcome("disconnect", 0, None, 0.05, "disconnected"),
        Outcome("embeddings", 0, None, 1.00, "ReadTimeout: "),
    ]
    w = summarize_window(0, outcomes)
    assert (w.served, w.poison_4xx, w.unexpected_4xx, w.http_5xx) == (2, 1, 2, 1)
    assert (w.disconnected, w.transport_errors) == (1, 1)
    assert w.p50_ms == 200.0 and w.p99_ms is not None and 290 < w.p99_ms <= 300
    assert set(KINDS) >= {o.kind for o in outcomes}


def test_rss_covers_the_process_and_its_children() -> None:
    alone = rss_kib(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # The child's interpreter is resident too, so the tree is larger than this process.
        wait_until(lambda: rss_kib(child.pid) > 1000, 30, "the child process")
        assert rss_kib(os.getpid()) > alone
    finally:
        child.kill()
        child.wait()
    assert alone > 1000 and rss_kib(child.pid) == 0
