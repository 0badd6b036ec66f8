"""The built-in MCP servers by name; a server whose requirements are missing is not offered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from inferstack.agents.settings import AgentSettings

__all__ = ["BuiltinOptions", "available", "build"]


@dataclass
class BuiltinOptions:
    roots: list[Path] = field(default_factory=list)
    settings: AgentSettings = field(default_factory=AgentSettings)


def _filesystem(options: BuiltinOptions) -> MCPServer:
    from inferstack.agents.mcp.servers.filesystem import build_filesystem_server

    if not options.roots:
        raise ValueError("the filesystem server needs --root DIR (one or more)")
    return build_filesystem_server(options.roots)


def _weather(options: BuiltinOptions) -> MCPServer:
    from inferstack.agents.mcp.servers.weather import build_weather_server

    return build_weather_server(options.settings.weather)


def _websearch(options: BuiltinOptions) -> MCPServer:
    from inferstack.agents.mcp.servers.websearch import build_websearch_server

    return build_websearch_server(options.settings.websearch)


def _knowledge(options: BuiltinOptions) -> MCPServer:
    from inferstack.agents.knowledge import RagClient
    from inferstack.agents.mcp.servers.knowledge import build_knowledge_server

    assert options.settings.rag_url is not None
    return build_knowledge_server(RagClient(options.settings.rag_url))


Builder = Callable[[BuiltinOptions], MCPServer]
BUILDERS: dict[str, tuple[Builder, Callable[[AgentSettings], bool]]] = {
    "filesystem": (_filesystem, lambda s: True),
    "weather": (_weather, lambda s: True),
    "knowledge": (_knowledge, lambda s: s.rag_url is not None),
    # Absent without a key: nothing is offered that cannot run.
    "websearch": (_websearch, lambda s: s.websearch.api_key is not None),
}


def available(settings: AgentSettings) -> list[str]:
    return [name for name, (_, usable) in BUILDERS.items() if usable(settings)]


def build(name: str, options: BuiltinOptions) -> MCPServer:
    if name not in available(options.settings):
        offered = ", ".join(available(options.settings))
        if name == "websearch":
            raise ValueError("the websearch server needs INFERSTACK_AGENTS_WEBSEARCH__API_KEY")
        if name == "knowledge":
            raise ValueError("the knowledge server needs INFERSTACK_AGENTS_RAG_URL")
        raise ValueError(f"unknown MCP server {name!r}; built-in servers: {offered}")
    return BUILDERS[name][0](options)
