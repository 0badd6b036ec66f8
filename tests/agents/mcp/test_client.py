"""The MCP client: tools as loop tools (destructive per the spec's defaults), resources, prompts."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from inferstack.agents.mcp import MCPConnection, MCPServerSpec, parse_spec


def demo() -> MCPServer:
    server = MCPServer("demo")

    @server.tool()
    def unannotated(x: int) -> int:
        return x * 2

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def peek(x: int) -> int:
        return x

    @server.tool(annotations=ToolAnnotations(destructive_hint=False))
    def append(x: int) -> str:
        raise ToolError(f"cannot append {x}")

    @server.resource("note://{name}")
    def note(name: str) -> str:
        return f"note {name}"

    @server.prompt()
    def summarize(topic: str) -> str:
        return f"Summarize {topic}."

    return server


async def test_tools_resources_prompts() -> None:
    async with MCPConnection(MCPServerSpec(name="demo", server=demo())) as conn:
        tools = {t.name: t for t in await conn.tools()}
        assert tools["unannotated"].destructive  # the spec's default: destructive
        assert not tools["peek"].destructive and not tools["append"].destructive
        assert tools["peek"].source == "mcp:demo"
        out = await tools["unannotated"].call({"x": 4})
        assert (out.text, out.data, out.is_error) == ("8", 8, False)
        out = await tools["append"].call({"x": 1})
        assert out.is_error and "cannot append 1" in out.text
        out = await tools["peek"].call({"x": "not a number"})
        assert out.is_error
        assert await conn.read_resource("note://a") == ["note a"]
        prompts = await conn.prompts()
        assert prompts[0]["name"] == "summarize"
        assert await conn.get_prompt("summarize", {"topic": "rain"}) == [
            {"role": "user", "content": "Summarize rain."}
        ]


async def test_trusted_servers_need_no_approval() -> None:
    async with MCPConnection(MCPServerSpec(name="d", server=demo(), trusted=True)) as conn:
        assert not any(t.destructive for t in await conn.tools())


def test_parse_spec() -> None:
    assert parse_spec("https://x.test/mcp").url == "https://x.test/mcp"
    assert parse_spec("npx -y server --flag 'a b'").command == [
        "npx",
        "-y",
        "server",
        "--flag",
        "a b",
    ]
    assert parse_spec("builtin:weather").command[-2:] == ["serve", "weather"]
    with pytest.raises(ValueError):
        parse_spec("  ")
