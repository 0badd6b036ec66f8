"""IDP settings: one typed class, read from the environment (``INFERSTACK_IDP_*``), a YAML file
or CLI flags (:meth:`inferstack.config.Settings.from_sources`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings, default_state_dir

__all__ = ["IdpSettings"]


class IdpSettings(Settings):
    """Which model extracts, how pages are read, when a document is approved, where it is kept."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_IDP_", extra="forbid")

    state_dir: Path = Field(
        default_factory=lambda: default_state_dir() / "idp",
        description="Folder for the SQLite database (created 0700).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the IDP tables (default: STATE_DIR/idp.db, SQLite)."
    )
    chat_base_url: str = Field(
        "http://127.0.0.1:8000/v1", description="OpenAI-compatible base URL for /chat/completions."
    )
    chat_model: str = Field("default", description="Chat model that fills the schema.")
    api_key: SecretStr | None = Field(None, description="Bearer key for the gateway, if any.")
    request_timeout: float = Field(300.0, gt=0, description="Seconds per model request.")
    max_tokens: int = Field(256, ge=16, description="Most tokens the extraction may generate.")
    max_prompt_chars: int = Field(
        4000, ge=200, description="Document text put into the prompt (the rest is cut)."
    )
    dpi: int = Field(200, ge=72, le=600, description="Resolution scanned PDF pages render at.")
    ocr_language: str = Field("eng", description="tesseract language(s), e.g. 'eng+deu'.")
    approve_threshold: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Lowest field confidence for automatic approval; any field below it sends "
        "the document to the review queue.",
    )
    calibration: str = Field(
        "default",
        min_length=1,
        description="Map from raw field scores to calibrated confidence: 'default' (shipped: "
        "invoices read by the packaged default model, fitted on 100 generated ones; "
        "docs/idp.md), 'none' (raw scores), or a file written by 'inferstack idp calibrate'. "
        "A schema, model or reader the map was not fitted for keeps raw scores, "
        "marked calibrated: false.",
    )
    reference_tables: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Allowed values per field, keyed 'schema.field' (e.g. "
        "{'birth_certificate.place_of_birth': ['Lyon', 'Porto']}); any other value is refuted "
        "(compared case-insensitively).",
    )
    lookup_urls: dict[str, str] = Field(
        default_factory=dict,
        description="An HTTP service per field, keyed 'schema.field': it gets POST {schema, "
        "field, value, values} and answers {valid, reason?}; unreachable or any other answer "
        "refutes the field.",
    )
    lookup_timeout: float = Field(5.0, gt=0, description="Seconds per lookup request.")
    ocr_orientation: bool = Field(
        True,
        description="Detect each scanned page's orientation (tesseract OSD) and turn pages "
        "scanned sideways or upside down the right way up before OCR.",
    )
    reader: Literal["ocr", "vision"] = Field(
        "ocr",
        description="How page images (images, scanned PDF pages) are read: 'ocr' (tesseract) "
        "or 'vision' (VISION_MODEL through the same OpenAI-compatible base URL, each page sent "
        "as an image_url content part). PDF text layers are read as they are either way.",
    )
    vision_model: str | None = Field(
        None, description="The vision chat model (a gateway model group) when reader is vision."
    )
    vision_fallback: Literal["none", "ocr"] = Field(
        "none",
        description="What a page gets when the vision model fails on it: 'none' (the document "
        "fails with the model's error) or 'ocr' (that page is OCR'd, logged and marked in its "
        "layout as a fallback).",
    )
    vision_max_tokens: int = Field(
        4096, ge=64, description="Most tokens the vision model may write for one page's lines."
    )
    vision_max_side: int = Field(
        1600,
        ge=256,
        le=8192,
        description="Longest side in pixels of the page image sent (larger pages are scaled "
        "down; the boxes the model gives are scaled back to the page).",
    )
    vision_image_format: Literal["auto", "png", "jpeg"] = Field(
        "auto",
        description="How the page image is encoded: 'png', 'jpeg' (quality 90), or 'auto' "
        "(PNG, or JPEG when the PNG would be over 1 MiB, e.g. a noisy colour scan).",
    )

    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest file POST /v1/idp/documents accepts."
    )

    @field_validator("reference_tables", "lookup_urls")
    @classmethod
    def _keyed_by_schema_field(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            schema_name, dot, name = key.partition(".")
            if not (schema_name and dot and name):
                raise ValueError(f"{key!r}: keys are 'schema.field', e.g. 'invoice.currency'")
        return value

    @field_validator("lookup_urls")
    @classmethod
    def _http_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for key, url in value.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{key}: {url!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _vision_needs_a_model(self) -> Self:
        if self.reader == "vision" and not self.vision_model:
            raise ValueError("reader 'vision' needs vision_model (a vision model's name)")
        return self

    @property
    def files_dir(self) -> Path:
        """Where uploaded files are kept, named by content hash."""
        return self.state_dir / "files"

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file under ``state_dir`` (folder made 0700)."""
        if self.database_url:
            return self.database_url
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return f"sqlite:///{self.state_dir / 'idp.db'}"
