"""The web-search MCP server for a Tavily-compatible provider (absent without a key); the
provider client is :mod:`inferstack.websearch`, the one RAG hands off to as well."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from inferstack.errors import InvalidRequestError
from inferstack.websearch import WebSearch, WebSearchError, WebSearchSettings

__all__ = ["build_websearch_server", "search"]

LOOKUP = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)


async def search(settings: WebSearchSettings, query: str, max_results: int) -> list[dict]:
    """The provider's results as title, url, content, score; a failure is a ToolError."""
    if settings.api_key is None:
        raise ToolError("web search is not configured (no API key)")
    try:
        async with WebSearch(settings) as web:
            results = await web.search(query, max_results)
    except (WebSearchError, InvalidRequestError) as exc:
        raise ToolError(exc.message) from exc
    return [r.as_dict() for r in results]


def build_websearch_server(settings: WebSearchSettings) -> MCPServer:
    if settings.api_key is None:
        raise ValueError("the websearch server needs an API key")
    server = MCPServer("inferstack-websearch", instructions="Search the web.")

    @server.tool(annotations=LOOKUP)
    async def web_search(query: str, max_results: int = settings.max_results) -> list[dict]:
        """Search the web; each result has a title, a URL and a snippet."""
        return await search(settings, query, min(max(max_results, 1), settings.max_results))

    return server
