"""The documentation names what the code has."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.agents.runtime.limits import Limits
from inferstack.agents.settings import AgentSettings, WeatherSettings, WebSearchSettings
from inferstack.console.settings import ConsoleSettings
from inferstack.engines.embeddings import EmbeddingSettings
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.gateway.settings import GatewaySettings
from inferstack.idp.settings import IdpSettings
from inferstack.rag.settings import RagSettings
from inferstack.serving.settings import ServerSettings
from inferstack.telemetry.settings import TelemetrySettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "settings",
    [
        ServerSettings,
        LlamaCppSettings,
        EmbeddingSettings,
        GatewaySettings,
        TelemetrySettings,
        RagSettings,
        AgentSettings,
        Limits,
        WeatherSettings,
        WebSearchSettings,
        IdpSettings,
        ConsoleSettings,
    ],
)
def test_configuration_reference_names_every_field(settings: type) -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert settings.__name__ in doc
    missing = [name for name in settings.model_fields if f"| `{name}` |" not in doc]
    assert not missing, f"docs/configuration.md lacks {settings.__name__} fields {missing}"


def test_readme_opens_with_make_up_and_make_test() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in readme[:8] if line.startswith("make ")]
    assert commands == ["make up", "make test"]
