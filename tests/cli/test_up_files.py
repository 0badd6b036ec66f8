"""`inferstack up`'s secrets on disk and the addresses it binds, without starting models."""

from __future__ import annotations

import argparse
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from inferstack.cli import stack as stack_module
from inferstack.cli.stack import write_private, write_stack
from inferstack.cli.up import Stack, server_host


def test_private_files_are_0600_from_creation(tmp_path: Path, monkeypatch) -> None:
    # no chmod after the fact: with a permissive umask, a chmod-after-write would leave a
    # window in which the secret is world-readable; forbid chmod to prove none is needed
    monkeypatch.setattr(os, "chmod", lambda *a, **k: pytest.fail("chmod after creation"))
    old = os.umask(0)
    try:
        write_private(tmp_path / "api_key", "sk-secret\n")
        write_private(tmp_path / "api_key", "sk-rotated\n")  # replacing keeps the mode
        path = write_stack({"gateway": {}}, tmp_path)
    finally:
        os.umask(old)
    for name in ("api_key", path.name):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert (tmp_path / "api_key").read_text() == "sk-rotated\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert stack_module.read_stack(tmp_path) == {"gateway": {}}


def _args(host: str, no_gateway: bool) -> argparse.Namespace:
    return argparse.Namespace(host=host, no_gateway=no_gateway)


def test_model_servers_stay_on_loopback_whatever_host_the_gateway_takes() -> None:
    assert server_host(_args("0.0.0.0", no_gateway=False)) == "127.0.0.1"
    assert server_host(_args("127.0.0.1", no_gateway=True)) == "127.0.0.1"
    with pytest.raises(SystemExit, match="keyless model servers"):
        server_host(_args("0.0.0.0", no_gateway=True))


def test_stop_kills_what_ignores_sigterm_within_one_shared_grace(tmp_path: Path, capsys) -> None:
    stack = Stack(tmp_path)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(600)"
    )
    procs = []
    for name in ("a", "b"):
        proc = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        procs.append(stack.adopt(name, proc, tmp_path / f"{name}.log"))
    polite = stack.adopt(
        "c",
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]),
        tmp_path / "c.log",
    )
    stack.stop(grace_s=1.0)
    assert [p.process.returncode for p in procs] == [-signal.SIGKILL] * 2
    assert polite.process.returncode == -signal.SIGTERM
    err = capsys.readouterr().err
    assert "a did not stop within 1 s; killed it" in err and "b did not stop" in err
