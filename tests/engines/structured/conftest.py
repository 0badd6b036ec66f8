"""A real vocabulary for the grammar tests: the packaged Gemma 3 270M's, through llguidance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.engines.llamacpp.structured import GrammarVocab
from inferstack.engines.structured import GrammarLimits
from inferstack.models.sources import resolve_model


@pytest.fixture(scope="session")
def vocab() -> Iterator[GrammarVocab]:
    resolved = resolve_model("default", progress=False)
    settings = LlamaCppSettings(
        model_path=str(resolved.path), model_id="test", parallel=1, ctx_size=256, threads=1
    )
    model = LlamaModel(settings)
    yield GrammarVocab(model, cache_bytes=1 << 20, limits=GrammarLimits())
    model.close()
