"""The console's static assets: shipped in the wheel, their imports resolve, and no code path
turns data into markup."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from inferstack.console.pages import Assets

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "inferstack" / "console" / "static"
_IMPORT = re.compile(r'^import .* from "(\.{1,2}/[^"]+)";$', re.MULTILINE)
# Sinks that parse a string as HTML or code: the page must never need them.
_SINKS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")


def _files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


def test_every_asset_is_package_data_and_served() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["inferstack"]
    served = Assets().files
    for path in _files():
        relative = path.relative_to(ROOT / "src" / "inferstack").as_posix()
        assert any(fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
        assert path.relative_to(STATIC).as_posix() in served


def test_module_imports_resolve_to_shipped_files() -> None:
    scripts = [p for p in _files() if p.suffix == ".js"]
    assert scripts
    for script in scripts:
        for target in _IMPORT.findall(script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name}: {target}"


def test_no_script_turns_strings_into_markup_or_code() -> None:
    for script in (p for p in _files() if p.suffix == ".js"):
        found = _SINKS.findall(script.read_text())
        assert not found, f"{script.name} uses {found}"
    page = (STATIC / "index.html").read_text()
    assert "<script>" not in page and " style=" not in page  # nothing the CSP would block
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
