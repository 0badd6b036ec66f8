"""The test helpers find real services wherever Debian put them."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from support.services import find_pg_bin


def _fake_install(root: Path, *majors: str) -> None:
    for major in majors:
        bin_dir = root / major / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "initdb").write_text("#!/bin/sh\n")


def test_initdb_is_found_for_any_major_version(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("INFERSTACK_TEST_PG_BIN", raising=False)
    _fake_install(tmp_path, "13", "17", "9")
    (tmp_path / "18" / "bin").mkdir(parents=True)  # a version without initdb does not count
    assert find_pg_bin(str(tmp_path / "*" / "bin")) == tmp_path / "17" / "bin"
    assert find_pg_bin(str(tmp_path / "none" / "*" / "bin")) is None


def test_the_environment_overrides_the_glob(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("INFERSTACK_TEST_PG_BIN", str(tmp_path))
    assert find_pg_bin("/nowhere/*/bin") == tmp_path


def test_this_machine_has_postgresql(monkeypatch) -> None:
    # make system-deps installs whatever major version Debian ships; it must be found.
    monkeypatch.delenv("INFERSTACK_TEST_PG_BIN", raising=False)
    installed = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not installed:
        pytest.fail("no PostgreSQL installed: run make system-deps")
    found = find_pg_bin()
    assert found is not None and (found / "initdb").is_file()
