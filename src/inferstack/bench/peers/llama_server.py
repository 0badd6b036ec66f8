"""llama.cpp's ``llama-server``, built once from the llama-cpp-python sdist's ``vendor/llama.cpp``.

A benchmark peer only, never part of inferstack. The build (~5-6 min on 2 cores) is cached
in ``~/.cache/inferstack/peers/llama-server-VERSION-KEY/llama-server`` (static, no shared libs),
where KEY hashes the machine and the configure flags: like the llama-cpp-python wheel, a change
of flags never reuses an old (possibly crashing) build. ``make peers`` builds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from inferstack.bench.peers.base import Peer, PeerError, cache_dir, free_port

__all__ = [
    "LLAMA_CPP_PYTHON_VERSION",
    "build_key",
    "cached_binary",
    "cmake_args",
    "ensure_llama_server",
    "llama_server",
]

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
_SDIST = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
# NOTE: the native build on AMX Xeons segfaults in llama_decode (llama.cpp #20824).
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def cmake_args(machine: str | None = None) -> list[str]:
    """Configure flags: server only, no web UI download, static, AMX off on x86_64."""
    args = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_APP=OFF",
        "-DLLAMA_OPENSSL=OFF",
    ]
    if (machine or platform.machine()).lower() in ("x86_64", "amd64"):
        args += [f"-DCMAKE_C_FLAGS={_NO_AMX}", f"-DCMAKE_CXX_FLAGS={_NO_AMX}"]
    return args


def build_key(machine: str | None = None) -> str:
    """12 hex digits naming one build: the version, the machine and the configure flags."""
    machine = machine or platform.machine()
    text = " ".join([LLAMA_CPP_PYTHON_VERSION, machine, *cmake_args(machine)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_binary() -> Path:
    """Where the built llama-server binary is kept (it may not exist yet)."""
    name = f"llama-server-{LLAMA_CPP_PYTHON_VERSION}-{build_key()}"
    return cache_dir() / name / "llama-server"


def _find_sdist() -> Path:
    for candidate in (cache_dir() / _SDIST, Path("/tmp/dl") / _SDIST):
        if candidate.is_file():
            return candidate
    log.info("downloading the llama-cpp-python %s sdist", LLAMA_CPP_PYTHON_VERSION)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(cache_dir())],
        check=True,
    )  # fmt: skip
    if not (cache_dir() / _SDIST).is_file():
        raise PeerError(f"pip download did not produce {_SDIST}")
    return cache_dir() / _SDIST


def ensure_llama_server(jobs: int | None = None) -> Path:
    """The cached ``llama-server`` binary, building it first if needed (niced)."""
    binary = cached_binary()
    if binary.is_file():
        return binary
    src_root = cache_dir() / "src"
    source = src_root / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
    if not (source / "CMakeLists.txt").is_file():
        with tarfile.open(_find_sdist()) as tar:
            tar.extractall(src_root, filter="data")
    build = source / f"build-{build_key()}"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    jobs = jobs or os.cpu_count() or 2
    log.info("building llama-server in %s (several minutes)", build)
    try:
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *generator, *cmake_args()], check=True
        )
        subprocess.run(
            [*nice, "cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PeerError(f"building llama-server failed: {exc}") from exc
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(build / "bin" / "llama-server", binary)
    return binary


def llama_server(
    model_path: str,
    port: int = 0,
    threads: int = 2,
    parallel: int = 16,
    ctx_per_seq: int = 2048,
    extra_args: list[str] | None = None,
) -> Peer:
    """A (not yet started) llama-server peer on 127.0.0.1 with ``parallel`` slots.

    ``ctx_per_seq`` is each slot's context; llama-server's ``-c`` is the total over slots.
    """
    port = port or free_port()
    cmd = [
        str(ensure_llama_server()),
        "-m", model_path,
        "--host", "127.0.0.1",
        "--port", str(port),
        "-t", str(threads),
        "--parallel", str(parallel),
        "-c", str(ctx_per_seq * parallel),
        *(extra_args or []),
    ]  # fmt: skip
    log_path = cache_dir() / f"llama-server-{port}.log"
    return Peer("llama-server", cmd, port, "/health", log_path)
