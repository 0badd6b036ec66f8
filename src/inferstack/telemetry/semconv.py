"""OpenTelemetry GenAI semantic conventions: attribute names, operation names, span names.

The names follow the current development conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/); ``tests/telemetry/test_semconv.py`` pins
every one of them, so a typo or a rename fails CI instead of silently producing attributes that
Langfuse or Phoenix don't know. inferstack's own attributes live under ``inferstack.``.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind

__all__ = [
    "ATTR",
    "OPERATION_KIND",
    "Attr",
    "Operation",
    "agent_span_name",
    "embeddings_span_name",
    "inference_span_name",
    "retrieval_span_name",
    "tool_span_name",
]


class Attr:
    """Span attribute names (``gen_ai.*`` from the GenAI conventions, the rest from the
    general HTTP/server conventions, ``inferstack.*`` our own)."""

    OPERATION_NAME = "gen_ai.operation.name"
    PROVIDER_NAME = "gen_ai.provider.name"
    REQUEST_MODEL = "gen_ai.request.model"
    REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
    REQUEST_TEMPERATURE = "gen_ai.request.temperature"
    REQUEST_TOP_P = "gen_ai.request.top_p"
    REQUEST_SEED = "gen_ai.request.seed"
    REQUEST_STREAM = "gen_ai.request.stream"
    RESPONSE_MODEL = "gen_ai.response.model"
    RESPONSE_ID = "gen_ai.response.id"
    RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
    USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
    USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
    USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
    INPUT_MESSAGES = "gen_ai.input.messages"
    OUTPUT_MESSAGES = "gen_ai.output.messages"
    TOOL_NAME = "gen_ai.tool.name"
    TOOL_CALL_ID = "gen_ai.tool.call.id"
    AGENT_NAME = "gen_ai.agent.name"
    DATA_SOURCE_ID = "gen_ai.data_source.id"
    RETRIEVAL_TOP_K = "gen_ai.retrieval.top_k"
    RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
    EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
    TOKEN_TYPE = "gen_ai.token.type"
    ERROR_TYPE = "error.type"
    SERVER_ADDRESS = "server.address"
    SERVER_PORT = "server.port"
    HTTP_METHOD = "http.request.method"
    HTTP_ROUTE = "http.route"
    HTTP_STATUS = "http.response.status_code"
    URL_PATH = "url.path"
    # inferstack's own
    REQUEST_ID = "inferstack.request_id"
    DEPLOYMENT = "inferstack.deployment"
    ATTEMPT = "inferstack.attempt"
    MODEL_GROUP = "inferstack.model_group"
    KEY_ALIAS = "inferstack.key.alias"
    CACHE_HIT = "inferstack.cache.hit"
    ROUTING_STRATEGY = "inferstack.routing.strategy"
    ROUTING_CANDIDATES = "inferstack.routing.candidates"
    GUARDRAIL_CHANGED = "inferstack.guardrail.changed"
    PREFILL_TOKENS = "inferstack.prefill.tokens"
    TIME_TO_FIRST_TOKEN = "inferstack.time_to_first_token_s"
    QUEUE_WAIT = "inferstack.queue_wait_s"
    RETRIEVAL_MODE = "inferstack.retrieval.mode"
    RETRIEVAL_HITS = "inferstack.retrieval.hits"
    RETRIEVAL_STORE = "inferstack.retrieval.store"
    RAG_ROUTE = "inferstack.rag.route"
    EMBEDDINGS_INPUTS = "inferstack.embeddings.inputs"


ATTR = Attr


class Operation:
    """Values of ``gen_ai.operation.name``."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    EXECUTE_TOOL = "execute_tool"
    INVOKE_AGENT = "invoke_agent"
    RETRIEVAL = "retrieval"


# The span kind each operation's span has, as the conventions say: calls to a model or service
# over the network are CLIENT; a tool run in the caller's process is INTERNAL; an agent invoked
# in-process is INTERNAL (a remote agent would be CLIENT).
OPERATION_KIND: dict[str, SpanKind] = {
    Operation.CHAT: SpanKind.CLIENT,
    Operation.TEXT_COMPLETION: SpanKind.CLIENT,
    Operation.EMBEDDINGS: SpanKind.CLIENT,
    Operation.EXECUTE_TOOL: SpanKind.INTERNAL,
    Operation.INVOKE_AGENT: SpanKind.INTERNAL,
    Operation.RETRIEVAL: SpanKind.CLIENT,
}


def inference_span_name(operation: str, model: str | None) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``, or the operation alone."""
    return f"{operation} {model}" if model else operation


def embeddings_span_name(model: str | None) -> str:
    return inference_span_name(Operation.EMBEDDINGS, model)


def tool_span_name(tool: str) -> str:
    return f"{Operation.EXECUTE_TOOL} {tool}"


def agent_span_name(agent: str | None) -> str:
    return f"{Operation.INVOKE_AGENT} {agent}" if agent else Operation.INVOKE_AGENT


def retrieval_span_name(source: str | None) -> str:
    return f"{Operation.RETRIEVAL} {source}" if source else Operation.RETRIEVAL
