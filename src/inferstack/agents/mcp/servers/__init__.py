"""Built-in MCP servers; each also runs alone with ``inferstack mcp serve NAME``."""
