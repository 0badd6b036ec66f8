"""The filesystem MCP server: read, write, list and search files inside its roots only."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from inferstack.agents.mcp.sandbox import Sandbox, SandboxError

__all__ = ["MAX_READ_BYTES", "build_filesystem_server"]

MAX_READ_BYTES = 1 << 20
MAX_LIST = 500
MAX_MATCHES = 200

# minLength keeps a grammar-constrained small model from answering with an empty path.
FilePath = Annotated[
    str, Field(min_length=1, max_length=4096, description="File path, e.g. notes/todo.txt")
]
DirPath = Annotated[str, Field(min_length=1, max_length=4096, description="Directory path")]
Content = Annotated[str, Field(min_length=1, description="The text to write")]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)


def _resolve(sandbox: Sandbox, path: str) -> Path:
    try:
        return sandbox.resolve(path)
    except SandboxError as exc:
        raise ToolError(str(exc)) from exc


def build_filesystem_server(roots: Sequence[str | Path]) -> MCPServer:
    """An MCP server whose tools see only ``roots`` (the first is the working directory)."""
    sandbox = Sandbox(roots)
    server = MCPServer(
        "inferstack-filesystem",
        instructions="Files inside: "
        + ", ".join(sandbox.roots)
        + ". Relative paths start in the first of them.",
    )

    @server.tool(annotations=READ_ONLY)
    def read_file(path: FilePath) -> str:
        """Read a UTF-8 text file."""
        real = _resolve(sandbox, path)
        try:
            fd = sandbox.open_read(real)
        except OSError as exc:
            raise ToolError(f"cannot read {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            raise ToolError(f"{path} is larger than {MAX_READ_BYTES} bytes")
        return data.decode("utf-8", errors="replace")

    @server.tool(annotations=WRITES)
    def write_file(path: FilePath, content: Content) -> str:
        """Create or overwrite a UTF-8 text file."""
        real = _resolve(sandbox, path)
        try:
            fd = sandbox.open_write(real)
        except SandboxError as exc:
            raise ToolError(str(exc)) from exc
        except OSError as exc:
            raise ToolError(f"cannot write {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        return f"wrote {len(content.encode())} bytes to {sandbox.relative(real)}"

    @server.tool(annotations=READ_ONLY)
    def list_directory(path: DirPath = ".") -> list[str]:
        """List a directory: names, directories with a trailing slash."""
        real = _resolve(sandbox, path)
        if not real.is_dir():
            raise ToolError(f"{path} is not a directory")
        names = []
        for entry in sorted(os.scandir(real), key=lambda e: e.name)[:MAX_LIST]:
            names.append(entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
        return names

    @server.tool(annotations=READ_ONLY)
    def search_files(
        pattern: Annotated[str, Field(min_length=1, description="Glob, e.g. *.md")],
        path: DirPath = ".",
    ) -> list[str]:
        """Find files whose name matches a glob pattern (like *.md), below a directory."""
        real = _resolve(sandbox, path)
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(real, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                if fnmatch.fnmatch(name, pattern):
                    found.append(sandbox.relative(Path(dirpath) / name))
                    if len(found) >= MAX_MATCHES:
                        return found
        return found

    return server
