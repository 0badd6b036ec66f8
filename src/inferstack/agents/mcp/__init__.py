"""MCP: the client the agents use, and the built-in servers."""

from inferstack.agents.mcp.client import MCPConnection, MCPServerSpec, parse_spec

__all__ = ["MCPConnection", "MCPServerSpec", "parse_spec"]
