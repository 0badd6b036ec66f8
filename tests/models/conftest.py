"""Shared by the model tests: a GGUF writer (``struct``, no tensors) and a tiny GGUF file."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
        U64: "Q", I64: "q", F64: "d"}  # fmt: skip


def _string(s: str, e: str = "<") -> bytes:
    raw = s.encode()
    return struct.pack(e + "Q", len(raw)) + raw


def _value(vtype: int, value: Any, e: str = "<") -> bytes:
    if vtype == STR:
        return _string(value, e)
    if vtype == ARR:
        etype, items = value
        body = b"".join(_value(etype, item, e) for item in items)
        return struct.pack(e + "IQ", etype, len(items)) + body
    return struct.pack(e + _FMT[vtype], value)


def write_gguf(path: Path, kvs: list[tuple[str, int, Any]], *, endian: str = "<") -> Path:
    """A GGUF v3 file with these key/values and no tensors."""
    data = b"GGUF" + struct.pack(endian + "IQQ", 3, 0, len(kvs))
    for key, vtype, value in kvs:
        data += _string(key, endian) + struct.pack(endian + "I", vtype)
        data += _value(vtype, value, endian)
    path.write_bytes(data)
    return path


@pytest.fixture
def gguf() -> SimpleNamespace:
    """The writer and the value-type constants, for tests that build their own files."""
    return SimpleNamespace(
        write=write_gguf, string=_string, U8=U8, I8=I8, U16=U16, I16=I16, U32=U32, I32=I32,
        F32=F32, BOOL=BOOL, STR=STR, ARR=ARR, U64=U64, I64=I64, F64=F64,
    )  # fmt: skip


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    """A GGUF file with a llama architecture and a 2048-token context, no tensors."""
    return write_gguf(
        tmp_path / "tiny-model.gguf",
        [("general.architecture", STR, "llama"), ("llama.context_length", U32, 2048)],
    )
