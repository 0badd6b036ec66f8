"""Model sources (packaged defaults, local files, Hugging Face) and GGUF metadata."""

from inferstack.models.gguf import GGUFFormatError, GGUFMetadata, read_gguf_metadata
from inferstack.models.sources import (
    HubUnreachableError,
    ModelNotFoundError,
    ModelSourceError,
    ResolvedModel,
    resolve_model,
)

__all__ = [
    "GGUFFormatError",
    "GGUFMetadata",
    "HubUnreachableError",
    "ModelNotFoundError",
    "ModelSourceError",
    "ResolvedModel",
    "read_gguf_metadata",
    "resolve_model",
]
