"""The filesystem MCP server through the real MCP client: in process, over stdio, over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inferstack.agents.mcp import MCPConnection, MCPServerSpec, parse_spec
from inferstack.agents.mcp.servers.filesystem import build_filesystem_server
from support.servers import free_port
from support.services import wait_until


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# A\nalpha")
    (root / "docs" / "b.txt").write_text("beta")
    (tmp_path / "root_secrets").mkdir()
    (tmp_path / "root_secrets" / "key.txt").write_text("hunter2")
    (root / "escape").symlink_to(tmp_path / "root_secrets", target_is_directory=True)
    return root


async def test_tools_through_the_client(root: Path, tmp_path: Path) -> None:
    spec = MCPServerSpec(name="fs", server=build_filesystem_server([root]))
    async with MCPConnection(spec) as conn:
        tools = {t.name: t for t in await conn.tools()}
        assert set(tools) == {"read_file", "write_file", "list_directory", "search_files"}
        assert tools["write_file"].destructive and not tools["read_file"].destructive
        out = await tools["read_file"].call({"path": "docs/a.md"})
        assert (out.text, out.is_error) == ("# A\nalpha", False)
        out = await tools["write_file"].call({"path": "docs/c.txt", "content": "gamma"})
        assert not out.is_error and (root / "docs" / "c.txt").read_text() == "gamma"
        out = await tools["list_directory"].call({"path": "docs"})
        assert out.data == ["a.md", "b.txt", "c.txt"]
        out = await tools["search_files"].call({"pattern": "*.md"})
        assert out.data == ["docs/a.md"]
        for path in (str(tmp_path / "root_secrets" / "key.txt"), "escape/key.txt"):
            out = await tools["read_file"].call({"path": path})
            assert out.is_error and "outside" in out.text and "hunter2" not in out.text
        out = await tools["write_file"].call({"path": "escape/new.txt", "content": "x"})
        assert out.is_error and not (tmp_path / "root_secrets" / "new.txt").exists()
        out = await tools["read_file"].call({"path": "docs/a.md\x00"})
        assert out.is_error and "null byte" in out.text
        out = await tools["read_file"].call({"path": "docs/missing.md"})
        assert out.is_error and "cannot read" in out.text


async def test_over_stdio(root: Path) -> None:
    spec = parse_spec(f"builtin:filesystem:{root}")
    assert spec.command[:3] == [sys.executable, "-m", "inferstack.cli.main"]
    async with MCPConnection(spec) as conn:
        tools = {t.name: t for t in await conn.tools()}
        out = await tools["read_file"].call({"path": "docs/b.txt"})
        assert out.text == "beta"


async def test_over_streamable_http(root: Path) -> None:
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "inferstack.cli.main", "mcp", "serve", "filesystem"]
    proc = subprocess.Popen([*cmd, "--root", str(root), "--http", str(port)])
    try:

        def up() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            except httpx.HTTPError:
                return False
            return True

        wait_until(up, 60, "MCP HTTP server")
        spec = parse_spec(f"http://127.0.0.1:{port}/mcp")
        async with MCPConnection(spec) as conn:
            tools = {t.name: t for t in await conn.tools()}
            out = await tools["list_directory"].call({})
            assert out.data == ["docs/", "escape"]  # a link is not a directory here
    finally:
        proc.terminate()
        proc.wait(timeout=30)
