"""The py-spy profile summary: busy shares per thread and time inside watched functions."""
# ruff: noqa: E501 - py-spy writes one stack per line

from __future__ import annotations

import subprocess
import sys

from inferstack.bench.pyspy import main, parse_raw

RAW = """\
thread (11): llamacpp-scheduler;Thread.run (threading.py:982);_run (scheduler.py:133);_step (scheduler.py:223);llama_decode (libllama.so) 90
thread (11): llamacpp-scheduler;Thread.run (threading.py:982);_run (scheduler.py:133);_sample (scheduler.py:250) 10
thread (11): llamacpp-scheduler;Thread.run (threading.py:982);_drain (scheduler.py:146);get (queue.py:180) 100
thread (10): MainThread;run_forever (base_events.py:607);_run_once (base_events.py:1922);_publish (engine.py:150) 30
thread (10): MainThread;run_forever (base_events.py:607);_run_once (base_events.py:1884);select (selectors.py:468) 70
"""


def test_busy_shares_and_time_inside_llama_decode() -> None:
    threads = parse_raw(RAW)
    sched = threads["llamacpp-scheduler"]
    assert (sched.samples, sched.busy) == (200, 100)
    assert sched.share(sched.inside["llama_decode"]) == 0.9
    loop = threads["MainThread"]
    assert (loop.samples, loop.busy) == (100, 30)
    assert loop.leaves.most_common(1)[0] == ("_publish (engine.py:150)", 30)


def test_profiles_a_real_process(capsys) -> None:
    code = "import threading\nprint('ready', flush=True)\nwhile True: sum(range(10000))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        # py-spy fails on an interpreter that is still starting: sample once it runs our loop.
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert main(["--pid", str(proc.pid), "--duration", "1"]) == 0
    finally:
        proc.kill()
        proc.wait()
    out = capsys.readouterr().out
    assert "MainThread: busy in" in out and "<module>" in out
