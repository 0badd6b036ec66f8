"""Readers that turn files into :class:`~inferstack.rag.types.Document` values.

One reader per format, chosen by file suffix from :data:`READERS`; ``read_paths`` walks files
and folders. Tabular formats (csv, json, jsonl) give one document per row/record, with the text
and metadata fields chosen by :class:`ReadOptions`.
"""

from inferstack.rag.sources.base import Reader, ReadOptions
from inferstack.rag.sources.registry import READERS, discover, read_file, read_paths

__all__ = ["READERS", "ReadOptions", "Reader", "discover", "read_file", "read_paths"]
