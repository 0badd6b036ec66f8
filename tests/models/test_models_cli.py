"""``inferstack models list|fetch`` (the cli module, driven through its own parser)."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
from pathlib import Path

import pytest

from inferstack.cli import models as models_cli


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="inferstack")
    models_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *argv])
    return int(args.func(args))


def test_list_shows_defaults_and_hf_cache(
    tmp_path: Path, tiny_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "hf" / "models--org--repo" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (tmp_path / "hf" / "models--org--repo" / "refs").mkdir()
    (tmp_path / "hf" / "models--org--repo" / "refs" / "main").write_text("a" * 40)
    blob = tmp_path / "hf" / "models--org--repo" / "blobs" / "b1"
    blob.parent.mkdir()
    shutil.copy(tiny_gguf, blob)
    os.symlink(os.path.relpath(blob, snapshot), snapshot / "tiny.gguf")
    (snapshot / "README.md").symlink_to(os.path.relpath(blob, snapshot))  # not a model: hidden

    assert _run("list", "--hf-cache-dir", str(tmp_path / "hf")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["SPEC", "SIZE", "NOTE", "PATH"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert set(rows) == {"default", "default-embedding", "hf://org/repo/tiny.gguf"}
    assert "gemma-3-270m" in rows["default"] and "MB" in rows["default"]
    assert "all-MiniLM-L6-v2" in rows["default-embedding"]
    assert f"{tiny_gguf.stat().st_size} B" in rows["hf://org/repo/tiny.gguf"]


def test_list_without_hf_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("list", "--hf-cache-dir", str(tmp_path / "none")) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_fetch_prints_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("fetch", "--no-progress") == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "gemma-3-270m-q4_k_m.gguf" and path.is_file()
    assert _run("fetch", "default-embedding") == 0
    assert capsys.readouterr().out.strip().endswith("model.onnx")


def test_fetch_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    code = _run(
        "fetch", "hf://org/repo/x.gguf", "--hf-endpoint", endpoint,
        "--hf-cache-dir", str(tmp_path), "--no-progress",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith("inferstack models: could not download model")
    assert _run("fetch", "ftp://x") == 1
    assert "cannot resolve model spec 'ftp://x'" in capsys.readouterr().err
