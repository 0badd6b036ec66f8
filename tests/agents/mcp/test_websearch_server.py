"""The websearch MCP server through the real MCP client, on the shared web-search client and the
local server that speaks Tavily's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from inferstack.agents.mcp import MCPConnection, MCPServerSpec
from inferstack.agents.mcp.servers import registry
from inferstack.agents.mcp.servers.websearch import build_websearch_server
from inferstack.agents.settings import AgentSettings
from inferstack.websearch import WebSearchSettings
from support.tavily import PAGES, TavilyStandIn, tavily_server


@pytest.fixture
def provider() -> Iterator[TavilyStandIn]:
    with tavily_server() as stand_in:
        yield stand_in


async def test_web_search_tool_returns_the_providers_results(provider: TavilyStandIn) -> None:
    settings = WebSearchSettings(url=provider.url, api_key=SecretStr("tvly-test-key"))
    spec = MCPServerSpec(name="web", server=build_websearch_server(settings))
    async with MCPConnection(spec) as conn:
        (tool,) = await conn.tools()
        assert tool.name == "web_search" and not tool.destructive
        out = await tool.call({"query": "largest moon of Neptune", "max_results": 2})
        assert not out.is_error
        assert [r["url"] for r in out.data] == [PAGES[0].url, PAGES[1].url]
        assert set(out.data[0]) == {"title", "url", "content", "score"}
        provider.fail("status", 503)
        out = await tool.call({"query": "largest moon of Neptune"})
        assert out.is_error and "answered 503" in out.text
        out = await tool.call({"query": " "})
        assert out.is_error and "empty" in out.text


def test_the_server_is_absent_without_a_key() -> None:
    assert "websearch" not in registry.available(AgentSettings(websearch=WebSearchSettings()))
    with pytest.raises(ValueError, match="WEBSEARCH__API_KEY"):
        registry.build(
            "websearch",
            registry.BuiltinOptions(settings=AgentSettings(websearch=WebSearchSettings())),
        )
    keyed = AgentSettings(websearch=WebSearchSettings(api_key=SecretStr("k")))
    assert "websearch" in registry.available(keyed)
