"""The filesystem sandbox, with regression tests for the reference server's CVE patterns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inferstack.agents.mcp.sandbox import Sandbox, SandboxError


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "allowed"
    root.mkdir()
    (root / "inside.txt").write_text("in")
    # CVE-2025-53110 pattern: a sibling whose name starts with the root's name.
    evil = tmp_path / "allowed_evil"
    evil.mkdir()
    (evil / "secret.txt").write_text("secret")
    return root, evil


def test_paths_inside_resolve(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    box = Sandbox([root])
    assert box.resolve("inside.txt") == (root / "inside.txt").resolve()
    assert box.resolve(str(root)) == root.resolve()
    assert box.resolve("sub/new.txt") == root.resolve() / "sub" / "new.txt"
    assert box.relative(box.resolve("inside.txt")) == "inside.txt"


def test_prefix_bypass_is_refused(layout: tuple[Path, Path]) -> None:
    root, evil = layout
    box = Sandbox([root])
    for path in (str(evil / "secret.txt"), str(evil), "../allowed_evil/secret.txt"):
        with pytest.raises(SandboxError, match="outside"):
            box.resolve(path)


def test_root_given_with_trailing_separator(layout: tuple[Path, Path]) -> None:
    root, evil = layout
    box = Sandbox([str(root) + os.sep])
    with pytest.raises(SandboxError):
        box.resolve(str(evil / "secret.txt"))


def test_symlink_escape_is_refused(layout: tuple[Path, Path], tmp_path: Path) -> None:
    root, evil = layout
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    # CVE-2025-53109 pattern: a link inside the root pointing out of it.
    (root / "link_file").symlink_to(outside)
    (root / "link_dir").symlink_to(evil, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "created_outside.txt")
    box = Sandbox([root])
    for path in ("link_file", "link_dir/secret.txt", "link_dir", "dangling"):
        with pytest.raises(SandboxError, match="outside"):
            box.resolve(path)


def test_symlink_inside_the_root_is_fine(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "alias.txt").symlink_to(root / "inside.txt")
    assert Sandbox([root]).resolve("alias.txt") == (root / "inside.txt").resolve()


def test_a_root_that_is_a_symlink(layout: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = layout
    link = tmp_path / "root_link"
    link.symlink_to(root, target_is_directory=True)
    box = Sandbox([link])
    assert box.resolve(str(link / "inside.txt")) == (root / "inside.txt").resolve()


def test_null_bytes_traversal_and_empty(layout: tuple[Path, Path]) -> None:
    box = Sandbox([layout[0]])
    with pytest.raises(SandboxError, match="null byte"):
        box.resolve("inside.txt\x00.png")
    for path in ("../../etc/passwd", "/etc/passwd", "sub/../../x"):
        with pytest.raises(SandboxError):
            box.resolve(path)
    with pytest.raises(SandboxError, match="empty"):
        box.resolve("  ")


def test_open_write_refuses_a_symlink_swapped_in(layout: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = layout
    box = Sandbox([root])
    target = box.resolve("later.txt")
    # After the check, an attacker puts a link there: O_NOFOLLOW refuses to follow it.
    (root / "later.txt").symlink_to(tmp_path / "victim.txt")
    with pytest.raises(OSError):
        box.open_write(target)
    assert not (tmp_path / "victim.txt").exists()


def test_roots_must_be_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Sandbox([tmp_path / "missing"])
    with pytest.raises(ValueError):
        Sandbox([])
