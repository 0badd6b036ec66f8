"""Static checks of the images (no Docker engine here): they install through `make install`,
run as a non-root user, carry no secrets and never compile at container start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCKER_DIR = Path(__file__).resolve().parents[2] / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("Dockerfile.*[!e]"))  # not the .dockerignore files


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, rest))
    return out


def test_both_images_exist() -> None:
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.cpu", "Dockerfile.gpu"}


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_install_goes_through_make_install(path: Path) -> None:
    runs = [rest for keyword, rest in instructions(path) if keyword == "RUN"]
    assert any(re.search(r"\bmake install\b", run) for run in runs)
    # The build copies what `make install` needs.
    copies = " ".join(rest for keyword, rest in instructions(path) if keyword == "COPY")
    for needed in ("Makefile", "pyproject.toml", "src"):
        assert needed in copies


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_runs_as_non_root_and_never_builds(path: Path) -> None:
    final = stages(path)[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    for keyword, rest in final:
        if keyword in ("CMD", "ENTRYPOINT"):
            assert not re.search(r"pip|make|cmake", rest), rest
    assert not any(keyword == "RUN" and "make install" in rest for keyword, rest in final)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_no_secrets_and_pinned_bases(path: Path) -> None:
    for keyword, rest in instructions(path):
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(TOKEN|PASSWORD|SECRET|API_KEY|MASTER_KEY)", rest, re.I), rest
        if keyword == "FROM":
            image = rest.split()[0]
            assert image.startswith("${") or ":" in image, f"unpinned base {image}"
            assert not image.endswith(":latest")
        assert keyword != "ADD", "use COPY (ADD fetches URLs and unpacks archives)"
    assert not re.search(r"hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9]{20,}", path.read_text())


def test_cpu_image_is_multi_arch_with_per_arch_flags() -> None:
    text = re.sub(r"\\\n", " ", (DOCKER_DIR / "Dockerfile.cpu").read_text())
    assert "TARGETARCH" in text
    assert re.search(r"arm64\)[^;]*-mcpu=", text)
    assert re.search(r"amd64\)[^;]*GGML_NATIVE=OFF", text)
    runs = " ".join(r for k, r in instructions(DOCKER_DIR / "Dockerfile.cpu") if k == "RUN")
    assert "march=native" not in runs and "GGML_NATIVE=ON" not in runs


def test_gpu_image_installs_vllm() -> None:
    runs = [r for k, r in instructions(DOCKER_DIR / "Dockerfile.gpu") if k == "RUN"]
    assert any("vllm==" in run for run in runs)
