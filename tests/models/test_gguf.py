"""The GGUF metadata reader, on hand-written files and on the real default model."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.models.gguf import GGUFFormatError, SkippedArray, read_gguf_metadata

# GGUF value types, from the spec
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)

TINY = [
    ("general.architecture", STR, "bert"),
    ("general.name", STR, "tiny ünicode"),
    ("bert.context_length", U32, 512),
    ("bert.embedding_length", U32, 384),
    ("bert.pooling_type", U32, 1),
    ("bert.attention.causal", BOOL, False),
    ("bert.attention.layer_norm_epsilon", F32, 1e-12),
    ("general.weird", F64, 2.5),
    ("general.i8", I8, -3),
    ("general.i16", I16, -300),
    ("general.u16", U16, 60000),
    ("general.u8", U8, 255),
    ("general.i64", I64, -(2**40)),
    ("general.u64", U64, 2**40),
    ("tokenizer.ggml.bos_token_id", U32, 101),
    ("tokenizer.ggml.eos_token_id", U32, 102),
    ("tokenizer.chat_template", STR, "{{ messages }}"),
    ("tokenizer.ggml.tokens", ARR, (STR, ["[PAD]", "a", "b"])),
    ("tokenizer.ggml.scores", ARR, (F32, [0.5, 1.5, -2.0])),
    ("general.nested", ARR, (ARR, [(U8, [1, 2]), (U8, [3])])),
]


def test_reads_every_value_type(tmp_path: Path, gguf: SimpleNamespace) -> None:
    meta = read_gguf_metadata(gguf.write(tmp_path / "tiny.gguf", TINY))
    assert meta.version == 3
    assert meta.tensor_count == 0
    assert meta["general.name"] == "tiny ünicode"
    assert meta["bert.attention.causal"] is False
    assert meta["bert.attention.layer_norm_epsilon"] == pytest.approx(1e-12)
    assert meta["general.weird"] == 2.5
    assert (meta["general.i8"], meta["general.i16"], meta["general.u16"]) == (-3, -300, 60000)
    assert (meta["general.u8"], meta["general.i64"], meta["general.u64"]) == (255, -(2**40), 2**40)
    assert meta["tokenizer.ggml.tokens"] == ["[PAD]", "a", "b"]
    assert meta["tokenizer.ggml.scores"] == [0.5, 1.5, -2.0]
    assert meta["general.nested"] == [[1, 2], [3]]


def test_helpers(tmp_path: Path, gguf: SimpleNamespace) -> None:
    meta = read_gguf_metadata(gguf.write(tmp_path / "tiny.gguf", TINY))
    assert meta.architecture == "bert"
    assert meta.context_length == 512
    assert meta.embedding_length == 384
    assert (meta.bos_token_id, meta.eos_token_id) == (101, 102)
    assert meta.chat_template == "{{ messages }}"
    assert meta.pooling_type == "mean"
    assert meta.is_embedding_model


def test_long_arrays_are_skipped_with_their_length(tmp_path: Path, gguf: SimpleNamespace) -> None:
    kvs = [*TINY, ("general.after", STR, "still read")]
    meta = read_gguf_metadata(gguf.write(tmp_path / "tiny.gguf", kvs), max_array_length=2)
    assert meta["tokenizer.ggml.tokens"] == SkippedArray(STR, 3)
    assert meta["tokenizer.ggml.scores"] == SkippedArray(F32, 3)
    assert meta["general.nested"] == [[1, 2], [3]]
    assert meta["general.after"] == "still read"  # skipping kept the reader in step


def test_big_endian_file(tmp_path: Path, gguf: SimpleNamespace) -> None:
    meta = read_gguf_metadata(gguf.write(tmp_path / "be.gguf", TINY, endian=">"))
    assert meta.version == 3
    assert meta.context_length == 512
    assert meta["tokenizer.ggml.tokens"] == ["[PAD]", "a", "b"]


def test_absent_keys(tmp_path: Path, gguf: SimpleNamespace) -> None:
    meta = read_gguf_metadata(
        gguf.write(tmp_path / "bare.gguf", [("general.architecture", STR, "llama")])
    )
    assert meta.chat_template is None
    assert meta.context_length is None
    assert meta.pooling_type is None
    assert not meta.is_embedding_model
    assert meta.bos_token_id is None


def test_not_gguf(tmp_path: Path, gguf: SimpleNamespace) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a gguf at all")
    with pytest.raises(GGUFFormatError, match="not a GGUF file") as info:
        read_gguf_metadata(path)
    assert isinstance(info.value, InvalidRequestError)
    assert info.value.param == "model"


def test_truncated(tmp_path: Path, gguf: SimpleNamespace) -> None:
    full = gguf.write(tmp_path / "full.gguf", TINY).read_bytes()
    path = tmp_path / "cut.gguf"
    path.write_bytes(full[: len(full) - 10])
    with pytest.raises(GGUFFormatError, match="truncated"):
        read_gguf_metadata(path)


def test_unknown_value_type(tmp_path: Path, gguf: SimpleNamespace) -> None:
    path = tmp_path / "bad.gguf"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    path.write_bytes(header + gguf.string("k") + struct.pack("<I", 99))
    with pytest.raises(GGUFFormatError, match="unknown GGUF value type 99"):
        read_gguf_metadata(path)


def test_missing_architecture(tmp_path: Path, gguf: SimpleNamespace) -> None:
    meta = read_gguf_metadata(gguf.write(tmp_path / "x.gguf", [("general.name", STR, "x")]))
    with pytest.raises(GGUFFormatError, match=r"general\.architecture"):
        _ = meta.architecture


def test_default_model_metadata() -> None:
    from inferstack.models.sources import resolve_model

    meta = read_gguf_metadata(resolve_model("default", progress=False).path)
    assert meta.architecture == "gemma3"
    assert meta.context_length == 32768
    assert meta.embedding_length == 640
    assert meta.chat_template is None  # the packaged base model has none
    assert (meta.bos_token_id, meta.eos_token_id) == (2, 1)
    assert meta.pooling_type is None
    assert not meta.is_embedding_model
    assert meta["tokenizer.ggml.tokens"] == SkippedArray(STR, 262144)
    assert meta.tensor_count > 0
