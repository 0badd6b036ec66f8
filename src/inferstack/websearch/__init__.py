"""A client for a Tavily-compatible web-search API, shared by the agents' ``websearch`` MCP
server and RAG's handoff when the knowledge base has no answer.

One settings model (:class:`WebSearchSettings`) and one client (:class:`WebSearch`); a provider
failure is a :class:`WebSearchError` (502), never an empty result. This package imports only
``inferstack.errors`` (an import-linter contract holds the line), so both apps can use it.
"""

from inferstack.websearch.client import WebResult, WebSearch, WebSearchError
from inferstack.websearch.settings import API_KEY_ENV, WebSearchSettings

__all__ = ["API_KEY_ENV", "WebResult", "WebSearch", "WebSearchError", "WebSearchSettings"]
