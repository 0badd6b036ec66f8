"""A small pure-Python reader for GGUF metadata (header and key/value section, never tensors).

GGUF layout (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md)::

    magic "GGUF" | version u32 | tensor_count u64 | kv_count u64 | kv_count x (key, type u32, value)

Strings are ``u64 length + UTF-8 bytes``; arrays are ``element type u32 + count u64 + elements``.
Version 1 files used u32 counts and lengths. Files are little-endian unless written big-endian,
which shows as a byte-swapped version number.

Large arrays (the tokenizer's vocabulary, merges and scores run to hundreds of thousands of
entries) are skipped unless asked for: they come back as :class:`SkippedArray` so that reading
the metadata of a model stays cheap.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

from inferstack.errors import InvalidRequestError

__all__ = [
    "GGUFFormatError",
    "GGUFMetadata",
    "SkippedArray",
    "read_gguf_metadata",
]

_MAGIC = b"GGUF"

# value type -> struct format of one scalar
_SCALARS: dict[int, str] = {
    0: "B",  # UINT8
    1: "b",  # INT8
    2: "H",  # UINT16
    3: "h",  # INT16
    4: "I",  # UINT32
    5: "i",  # INT32
    6: "f",  # FLOAT32
    7: "?",  # BOOL
    10: "Q",  # UINT64
    11: "q",  # INT64
    12: "d",  # FLOAT64
}
_STRING = 8
_ARRAY = 9

# llama.cpp's enum llama_pooling_type
_POOLING_NAMES = {-1: "unspecified", 0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}


class GGUFFormatError(InvalidRequestError):
    """The file is not a GGUF file, or its metadata section is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model", code="invalid_model_file")


@dataclass(frozen=True, slots=True)
class SkippedArray:
    """An array longer than the reader's limit, left unread: its element type and length."""

    element_type: int
    length: int


class _Reader:
    def __init__(self, f: BinaryIO, path: Path) -> None:
        self._f = f
        self._path = path
        self.endian = "<"
        self.wide = True  # version >= 2: u64 counts and lengths

    def _read(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise GGUFFormatError(f"{self._path}: truncated GGUF metadata")
        return data

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(self.endian + fmt)
        return struct.unpack(self.endian + fmt, self._read(size))[0]

    def count(self) -> int:
        return int(self.unpack("Q" if self.wide else "I"))

    def string(self) -> str:
        raw = self._read(self.count())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int, max_array: int) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array(max_array)
        raise GGUFFormatError(f"{self._path}: unknown GGUF value type {vtype}")

    def array(self, max_array: int) -> list[Any] | SkippedArray:
        etype = int(self.unpack("I"))
        length = self.count()
        if length <= max_array:
            if etype in _SCALARS:
                fmt = f"{self.endian}{length}{_SCALARS[etype]}"
                return list(struct.unpack(fmt, self._read(struct.calcsize(fmt))))
            return [self.value(etype, max_array) for _ in range(length)]
        self.skip_array(etype, length, max_array)
        return SkippedArray(etype, length)

    def skip_array(self, etype: int, length: int, max_array: int) -> None:
        if etype in _SCALARS:
            self._f.seek(length * struct.calcsize(_SCALARS[etype]), 1)
        elif etype == _STRING:
            width = 8 if self.wide else 4
            fmt = self.endian + ("Q" if self.wide else "I")
            for _ in range(length):
                (n,) = struct.unpack(fmt, self._read(width))
                self._f.seek(n, 1)
        else:
            for _ in range(length):
                self.value(etype, max_array)


class GGUFMetadata(dict[str, Any]):
    """The key/value metadata of a GGUF file, with helpers for the keys inferstack uses."""

    version: int
    tensor_count: int

    @property
    def architecture(self) -> str:
        """``general.architecture`` (``llama``, ``gemma3``, ``bert``…)."""
        arch = self.get("general.architecture")
        if not isinstance(arch, str):
            raise GGUFFormatError("GGUF metadata has no general.architecture")
        return arch

    def arch_value(self, suffix: str, default: Any = None) -> Any:
        """The value of ``{architecture}.{suffix}``, or ``default``."""
        return self.get(f"{self.architecture}.{suffix}", default)

    @property
    def name(self) -> str | None:
        value = self.get("general.name")
        return value if isinstance(value, str) else None

    @property
    def context_length(self) -> int | None:
        """The context length the model was trained with (``{arch}.context_length``)."""
        value = self.arch_value("context_length")
        return int(value) if value is not None else None

    @property
    def embedding_length(self) -> int | None:
        """The width of the hidden state (``{arch}.embedding_length``)."""
        value = self.arch_value("embedding_length")
        return int(value) if value is not None else None

    @property
    def chat_template(self) -> str | None:
        """``tokenizer.chat_template``; ``None`` when the model has none (the default has none)."""
        value = self.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def bos_token_id(self) -> int | None:
        value = self.get("tokenizer.ggml.bos_token_id")
        return int(value) if value is not None else None

    @property
    def eos_token_id(self) -> int | None:
        value = self.get("tokenizer.ggml.eos_token_id")
        return int(value) if value is not None else None

    @property
    def pooling_type(self) -> str | None:
        """``{arch}.pooling_type`` as a name (``mean``, ``cls``, ``last``…), ``None`` if absent."""
        value = self.arch_value("pooling_type")
        if value is None:
            return None
        return _POOLING_NAMES.get(int(value), f"unknown({value})")

    @property
    def is_embedding_model(self) -> bool:
        """Whether the file declares a pooled sentence embedding (a pooling type other than none).

        A causal LM can still be run as an embedding model with an explicit pooling; this says
        only what the file itself declares.
        """
        return self.pooling_type not in (None, "none", "unspecified", "rank")


def read_gguf_metadata(path: str | PathLike[str], *, max_array_length: int = 4096) -> GGUFMetadata:
    """Read the metadata of the GGUF file at ``path``.

    Arrays longer than ``max_array_length`` come back as :class:`SkippedArray`. Raises
    :class:`GGUFFormatError` when the file is not GGUF or is truncated, and
    :class:`FileNotFoundError` when it does not exist.
    """
    path = Path(path)
    with path.open("rb") as f:
        reader = _Reader(f, path)
        magic = f.read(4)
        if magic != _MAGIC:
            raise GGUFFormatError(f"{path}: not a GGUF file (magic {magic!r})")
        raw_version = reader._read(4)
        version = struct.unpack("<I", raw_version)[0]
        if version & 0xFFFF == 0 and version != 0:  # byte-swapped: a big-endian file
            reader.endian = ">"
            version = struct.unpack(">I", raw_version)[0]
        if version not in (1, 2, 3):
            raise GGUFFormatError(f"{path}: unsupported GGUF version {version}")
        reader.wide = version >= 2
        tensor_count = reader.count()
        kv_count = reader.count()
        meta = GGUFMetadata()
        meta.version = version
        meta.tensor_count = tensor_count
        for _ in range(kv_count):
            key = reader.string()
            vtype = int(reader.unpack("I"))
            meta[key] = reader.value(vtype, max_array_length)
    return meta
