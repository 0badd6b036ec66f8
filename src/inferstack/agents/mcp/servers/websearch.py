"""The web-search MCP server for a Tavily-compatible provider (absent without a key)."""

from __future__ import annotations

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from inferstack.agents.settings import WebSearchSettings

__all__ = ["build_websearch_server", "search"]

LOOKUP = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)


async def search(settings: WebSearchSettings, query: str, max_results: int) -> list[dict]:
    """POST the query to the provider; the results as title, url, content, score."""
    if settings.api_key is None:
        raise ToolError("web search is not configured (no API key)")
    if not query.strip():
        raise ToolError("the query is empty")
    body = {"query": query, "max_results": max_results, "search_depth": "basic"}
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=settings.timeout) as http:
            r = await http.post(settings.url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ToolError(f"the search provider is unreachable: {exc}") from exc
    if r.status_code in (401, 403):
        raise ToolError("the search provider refused the API key")
    if r.status_code != 200:
        raise ToolError(f"the search provider answered {r.status_code}")
    results = r.json().get("results") or []
    return [
        {
            "title": str(item.get("title", "")),
            "url": str(item.get("url", "")),
            "content": str(item.get("content", ""))[:1000],
            "score": item.get("score"),
        }
        for item in results[:max_results]
    ]


def build_websearch_server(settings: WebSearchSettings) -> MCPServer:
    if settings.api_key is None:
        raise ValueError("the websearch server needs an API key")
    server = MCPServer("inferstack-websearch", instructions="Search the web.")

    @server.tool(annotations=LOOKUP)
    async def web_search(query: str, max_results: int = settings.max_results) -> list[dict]:
        """Search the web; each result has a title, a URL and a snippet."""
        return await search(settings, query, min(max(max_results, 1), settings.max_results))

    return server
