"""One key configures both apps: RAG reads the agents' web-search key variable."""

from __future__ import annotations

import pytest

from inferstack.agents.settings import AgentSettings
from inferstack.rag.settings import RagSettings
from inferstack.websearch import API_KEY_ENV


def test_rag_and_agents_read_the_same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERSTACK_RAG_WEBSEARCH__API_KEY", raising=False)
    assert RagSettings().websearch.api_key is None
    monkeypatch.setenv(API_KEY_ENV, "tvly-one")
    monkeypatch.setenv("INFERSTACK_RAG_WEBSEARCH__URL", "http://127.0.0.1:9/search")
    rag, agents = RagSettings(), AgentSettings()
    assert rag.websearch.api_key is not None and agents.websearch.api_key is not None
    assert rag.websearch.api_key.get_secret_value() == "tvly-one"
    assert agents.websearch.api_key.get_secret_value() == "tvly-one"
    assert rag.websearch.url == "http://127.0.0.1:9/search"
    # YAML / flags merge into the nested model and keep the key from the environment
    merged = RagSettings.from_sources(None, websearch={"max_results": 3})
    assert merged.websearch.max_results == 3 and merged.websearch.enabled


def test_rags_own_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "tvly-agents")
    monkeypatch.setenv("INFERSTACK_RAG_WEBSEARCH__API_KEY", "tvly-rag")
    key = RagSettings().websearch.api_key
    assert key is not None and key.get_secret_value() == "tvly-rag"
