"""End-to-end fixtures: real model servers on 127.0.0.1, started as `inferstack serve` processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import RunningServer, start_server, stop_server


@pytest.fixture(scope="session")
def chat_server() -> Iterator[RunningServer]:
    """The packaged default chat model with 16 slots of 2048 tokens."""
    server = start_server(
        "--model", "default", "--parallel", "16", "--ctx-size", "2048", "--threads", "2"
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def embedding_server() -> Iterator[RunningServer]:
    """The packaged default embedding model."""
    server = start_server("--model", "default-embedding")
    yield server
    stop_server(server)
