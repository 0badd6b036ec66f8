"""MCP client: connect to a server over stdio or streamable HTTP and use its tools, resources
and prompts; its tools become :class:`~inferstack.agents.tools.Tool` objects for the loop.

A tool counts as destructive the way the MCP spec says: unless it is marked read-only or
``destructiveHint: false``, so an unannotated third-party tool asks for approval
(``trusted=True`` on the spec turns that off for servers you control).
"""

from __future__ import annotations

import shlex
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as MCPTool

from inferstack.agents.tools import Tool, ToolError, ToolOutput

__all__ = ["MCPConnection", "MCPServerSpec", "parse_spec"]


@dataclass
class MCPServerSpec:
    """Where an MCP server is: a URL (streamable HTTP), a command (stdio), or in process."""

    name: str
    url: str | None = None
    command: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    server: MCPServer | None = None
    trusted: bool = False
    timeout: float = 30.0

    def target(self) -> Any:
        if self.server is not None:
            return self.server
        if self.url:
            return self.url
        if not self.command:
            raise ValueError(f"MCP server {self.name!r} has neither a URL nor a command")
        return StdioServerParameters(command=self.command[0], args=self.command[1:], env=self.env)


def parse_spec(text: str) -> MCPServerSpec:
    """``http(s)://…`` is a streamable-HTTP server; ``builtin:NAME[:ROOT]`` runs a built-in
    server over stdio; anything else is a command line to start over stdio."""
    if text.startswith(("http://", "https://")):
        return MCPServerSpec(name=text, url=text)
    if text.startswith("builtin:"):
        _, name, *rest = text.split(":", 2)
        command = [sys.executable, "-m", "inferstack.cli.main", "mcp", "serve", name]
        if rest:
            command += ["--root", rest[0]]
        return MCPServerSpec(name=name, command=command, trusted=False)
    parts = shlex.split(text)
    if not parts:
        raise ValueError("empty MCP server command")
    return MCPServerSpec(name=parts[0], command=parts)


def _is_destructive(tool: MCPTool) -> bool:
    hints = tool.annotations
    if hints is None:
        return True
    if hints.read_only_hint:
        return False
    return hints.destructive_hint is not False


def _output(result: CallToolResult) -> ToolOutput:
    texts = [c.text for c in result.content if isinstance(c, TextContent)]
    text = "\n".join(texts)
    data = result.structured_content
    if isinstance(data, dict) and set(data) == {"result"}:
        data = data["result"]
    return ToolOutput(text=text, data=data, is_error=bool(result.is_error))


class MCPConnection:
    """One open connection; use as ``async with MCPConnection(spec) as conn``."""

    def __init__(self, spec: MCPServerSpec) -> None:
        self.spec = spec
        self._stack = AsyncExitStack()
        self._client: Client | None = None

    async def __aenter__(self) -> MCPConnection:
        client = Client(self.spec.target(), read_timeout_seconds=self.spec.timeout)
        self._client = await self._stack.enter_async_context(client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._client = None
        await self._stack.aclose()

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the MCP connection is not open")
        return self._client

    async def tools(self) -> list[Tool]:
        listing = await self.client.list_tools()
        return [self._wrap(t) for t in listing.tools]

    def _wrap(self, remote: MCPTool) -> Tool:
        client, name = self.client, remote.name

        async def call(arguments: dict[str, Any]) -> ToolOutput:
            try:
                result = await client.call_tool(name, arguments)
            except MCPError as exc:
                raise ToolError(f"the MCP server refused the call: {exc}") from exc
            return _output(result)

        return Tool(
            name=name,
            description=remote.description or "",
            parameters=remote.input_schema or {"type": "object", "properties": {}},
            call=call,
            destructive=not self.spec.trusted and _is_destructive(remote),
            source=f"mcp:{self.spec.name}",
        )

    async def resources(self) -> list[dict[str, Any]]:
        listing = await self.client.list_resources()
        return [r.model_dump(exclude_none=True) for r in listing.resources]

    async def read_resource(self, uri: str) -> list[str]:
        result = await self.client.read_resource(uri)
        return [getattr(c, "text", "") for c in result.contents]

    async def prompts(self) -> list[dict[str, Any]]:
        listing = await self.client.list_prompts()
        return [p.model_dump(exclude_none=True) for p in listing.prompts]

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> list[dict[str, Any]]:
        result = await self.client.get_prompt(name, arguments)
        messages = []
        for m in result.messages:
            content = m.content.text if isinstance(m.content, TextContent) else ""
            messages.append({"role": m.role, "content": content})
        return messages
