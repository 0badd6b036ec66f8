"""The knowledge-base MCP server: search the RAG knowledge base, results with citations."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from inferstack.errors import InferstackError
from inferstack.rag import Retriever

__all__ = ["build_knowledge_server"]

LOOKUP = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def build_knowledge_server(retriever: Retriever) -> MCPServer:
    """An MCP server over any :class:`inferstack.rag.Retriever`."""
    server = MCPServer("inferstack-knowledge", instructions="Search the document collection.")

    @server.tool(annotations=LOOKUP)
    async def search_knowledge(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to find")],
        k: Annotated[int, Field(ge=1, le=10)] = 4,
    ) -> list[dict]:
        """Search the knowledge base; each passage has a citation number, source and text."""
        try:
            hits = await retriever.retrieve(query, k=k)
        except InferstackError as exc:
            raise ToolError(exc.message) from exc
        return [
            {
                "index": i + 1,
                "source": h.source,
                "location": h.location(),
                "score": h.score,
                "text": h.text,
            }
            for i, h in enumerate(hits)
        ]

    return server
