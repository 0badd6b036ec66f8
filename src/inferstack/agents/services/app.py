"""``build_app(settings)``: the agent service (agent REST API and the weather function-calling
API) with its database, MCP connections, supervisor and Open-Meteo client on ``app.state``.

Traced like every process of the stack (:class:`TelemetrySettings` and the ``OTEL_*``
variables; off by default, service ``inferstack-agents``): a SERVER span per request that
continues the caller's ``traceparent``; the agents' spans under it, and the model and
knowledge-base calls carry the trace on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import openai
from fastapi import FastAPI
from opentelemetry import trace

from inferstack.agents.db import AgentDatabase
from inferstack.agents.knowledge import RagClient
from inferstack.agents.mcp import MCPConnection, parse_spec
from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.runtime import Agent, SessionStore
from inferstack.agents.services import agent as agent_routes
from inferstack.agents.services import knowledge as knowledge_routes
from inferstack.agents.services import weather as weather_routes
from inferstack.agents.services.handler import AgentService
from inferstack.agents.services.http import install_error_handlers
from inferstack.agents.settings import AgentSettings
from inferstack.agents.supervisor import Supervisor
from inferstack.agents.tools import Tool
from inferstack.agents.weather.chat import WeatherChat
from inferstack.agents.weather.openmeteo import OpenMeteo
from inferstack.rag import Retriever
from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.propagation import async_hooks
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["build_app", "model_client"]

SYSTEM = "You are a helpful assistant. Use the tools when the question needs them."


def model_client(settings: AgentSettings, transport: Any = None) -> openai.AsyncOpenAI:
    """The OpenAI client of ``settings``' model; each request carries the current trace
    (``transport``, an httpx2 transport as the SDK's client takes, replaces the network in
    tests)."""
    key = settings.api_key.get_secret_value() if settings.api_key else "unused"
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=key,
        timeout=settings.request_timeout,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(event_hooks=async_hooks(), transport=transport),
    )


async def _open_tools(stack: AsyncExitStack, settings: AgentSettings) -> list[Tool]:
    tools: dict[str, Tool] = {}
    for text in settings.mcp_servers:
        spec = parse_spec(text)
        spec.trusted = settings.trusted_mcp
        conn = await stack.enter_async_context(MCPConnection(spec))
        for tool in await conn.tools():
            name = tool.name if tool.name not in tools else f"{spec.name}_{tool.name}"
            tool.name = name
            tools[name] = tool
    return list(tools.values())


def build_app(
    settings: AgentSettings,
    *,
    client: openai.AsyncOpenAI | None = None,
    tools: list[Tool] | None = None,
    retriever: Retriever | None = None,
    tracer: trace.Tracer | None = None,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """The service; ``client``, ``tools`` and ``retriever`` replace what settings would build.
    Spans go to ``tracer`` or ``telemetry`` (default: as the telemetry settings say, shut
    down with the app)."""
    metrics = AgentMetrics()
    own_telemetry = telemetry is None and tracer is None
    if telemetry is None:
        telemetry = (
            Telemetry.from_settings(TelemetrySettings(), service_name="inferstack-agents")
            if tracer is None
            else Telemetry.disabled()
        )
    tel = telemetry
    spans = tracer or tel.tracer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if own_telemetry:
                stack.callback(tel.shutdown)
            db = AgentDatabase(settings.database_url)
            await db.create()
            stack.push_async_callback(db.close)
            model = client or model_client(settings)
            all_tools = [*(tools or []), *await _open_tools(stack, settings)]
            store = SessionStore(db)
            agent = Agent(
                model,
                settings.model,
                store,
                tools=all_tools,
                system=SYSTEM,
                limits=settings.limits,
                temperature=settings.temperature,
                tracer=spans,
                metrics=metrics,
            )
            kb: Retriever | None = retriever
            if kb is None and settings.rag_url:
                http = httpx.AsyncClient(
                    timeout=settings.request_timeout, event_hooks=async_hooks()
                )
                rag = RagClient(settings.rag_url, http=http)
                stack.push_async_callback(rag.aclose)
                kb = rag
            app.state.knowledge = kb
            supervisor = Supervisor(
                model, settings.model, agent, retriever=kb, tracer=spans, metrics=metrics
            )
            meteo = OpenMeteo(settings.weather)
            stack.push_async_callback(meteo.close)
            app.state.agent_service = AgentService(
                settings, db, agent, supervisor, mcp_servers=list(settings.mcp_servers)
            )
            app.state.meteo = meteo
            app.state.weather_chat = WeatherChat(
                model, settings.model, meteo, metrics=metrics, tracer=spans
            )
            app.state.max_body_bytes = settings.max_body_bytes
            yield

    app = FastAPI(title="inferstack agents", lifespan=lifespan)
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(agent_routes.router)
    app.include_router(weather_routes.router)
    if retriever is not None or settings.rag_url:
        # /embed exists only with a knowledge base to ingest into.
        app.include_router(knowledge_routes.router)
    # NOTE: added last so it is outermost: the SERVER span covers every other layer.
    routers = (agent_routes.router, weather_routes.router, knowledge_routes.router)
    routes = {getattr(r, "path", "") for router in routers for r in router.routes}
    app.add_middleware(TracingMiddleware, telemetry=tel, routes=routes)
    return app
