"""How the RAG commands find their models and knowledge base: flags, or the stack record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferstack.cli.main import build_parser
from inferstack.cli.rag_common import rag_settings


def parse(*argv: str):
    return build_parser().parse_args(["ask", "q", *argv])


def test_gateway_from_the_stack_with_its_key_and_model_names(tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("sk-test-123\n")
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "chat": {"base_url": "http://127.0.0.1:1/v1", "model": "gemma"},
                "embeddings": {"base_url": "http://127.0.0.1:2/v1", "model": "minilm"},
                "gateway": {"base_url": "http://127.0.0.1:3/v1", "api_key_file": str(key_file)},
                "rag": {
                    "kb_dir": str(tmp_path / "kb"),
                    "store": "milvus",
                    "store_uri": "http://127.0.0.1:4",
                },
            }
        )
    )
    s = rag_settings(parse("--state-dir", str(tmp_path)))
    assert s.embedding_base_url == s.chat_base_url == "http://127.0.0.1:3/v1"
    assert (s.embedding_model, s.chat_model) == ("minilm", "gemma")
    assert s.api_key is not None and s.api_key.get_secret_value() == "sk-test-123"
    assert (s.store, s.store_uri, s.state_dir) == ("milvus", "http://127.0.0.1:4", tmp_path / "kb")


def test_flags_win_over_the_stack(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "chat": {"base_url": "http://127.0.0.1:1/v1", "model": "gemma"},
                "embeddings": {"base_url": "http://127.0.0.1:2/v1", "model": "minilm"},
            }
        )
    )
    s = rag_settings(
        parse(
            "--state-dir",
            str(tmp_path),
            "--embedding-url",
            "http://h:9",
            "--store",
            "pgvector",
            "--store-uri",
            "postgresql://x",
            "--kb-dir",
            str(tmp_path / "mine"),
        )
    )
    assert s.embedding_base_url == "http://h:9/v1"
    assert s.chat_base_url == "http://127.0.0.1:1/v1"
    assert (s.store, s.state_dir) == ("pgvector", tmp_path / "mine")


def test_no_stack_and_no_url_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="inferstack up"):
        rag_settings(parse("--state-dir", str(tmp_path)))
