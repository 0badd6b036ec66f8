"""Everything one app instance owns, wired by :func:`inferstack.serving.app.build_app`."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.engines.base import Engine
from inferstack.protocol import Model, ModelList
from inferstack.serving.admission import Admission
from inferstack.serving.handlers.chat import ChatHandler
from inferstack.serving.handlers.completions import CompletionsHandler
from inferstack.serving.handlers.embeddings import EmbeddingsHandler
from inferstack.serving.handlers.generation import GenerationService
from inferstack.serving.handlers.tokenize import TokenizeHandler
from inferstack.serving.metrics import ServerMetrics
from inferstack.serving.settings import ServerSettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["ServerState"]


@dataclass
class ServerState:
    service: GenerationService
    settings: ServerSettings
    engine: Engine
    metrics: ServerMetrics
    admission: Admission
    chat: ChatHandler
    completions: CompletionsHandler
    embeddings: EmbeddingsHandler
    tokenizer: TokenizeHandler
    created: int

    @classmethod
    def build(
        cls,
        settings: ServerSettings,
        engine: Engine,
        created: int,
        telemetry: Telemetry | None = None,
    ) -> ServerState:
        admission = Admission(
            max_running=settings.max_running or engine.max_concurrency,
            max_waiting=settings.max_waiting,
            retry_after=settings.retry_after_seconds,
        )
        metrics = ServerMetrics(
            engine.info.id, engine.stats, telemetry, in_flight=lambda: admission.in_flight
        )
        service = GenerationService(engine, metrics, admission, settings, telemetry)
        return cls(
            service=service,
            settings=settings,
            engine=engine,
            metrics=metrics,
            admission=admission,
            chat=ChatHandler(service),
            completions=CompletionsHandler(service),
            embeddings=EmbeddingsHandler(service),
            tokenizer=TokenizeHandler(service),
            created=created,
        )

    def model_list(self) -> ModelList:
        info = self.engine.info
        return ModelList(
            data=[
                Model(
                    id=i,
                    created=self.created,
                    owned_by=info.owned_by,
                    capabilities=list(info.capabilities) or None,
                )
                for i in self.service.model_ids
            ]
        )
