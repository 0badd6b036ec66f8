"""Golden test: the attribute, operation and span names are the GenAI conventions' own."""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from inferstack.telemetry import semconv
from inferstack.telemetry.semconv import OPERATION_KIND, Attr, Operation

# Copied by hand from https://opentelemetry.io/docs/specs/semconv/gen-ai/ (development names);
# the retrieval ones from open-telemetry/semantic-conventions-genai (v0.1.0: retrieval spans
# take gen_ai.retrieval.top_k, no longer gen_ai.request.top_k).
GOLDEN_ATTRIBUTES = {
    "OPERATION_NAME": "gen_ai.operation.name",
    "PROVIDER_NAME": "gen_ai.provider.name",
    "REQUEST_MODEL": "gen_ai.request.model",
    "REQUEST_MAX_TOKENS": "gen_ai.request.max_tokens",
    "REQUEST_TEMPERATURE": "gen_ai.request.temperature",
    "REQUEST_TOP_P": "gen_ai.request.top_p",
    "REQUEST_SEED": "gen_ai.request.seed",
    "REQUEST_STREAM": "gen_ai.request.stream",
    "RESPONSE_MODEL": "gen_ai.response.model",
    "RESPONSE_ID": "gen_ai.response.id",
    "RESPONSE_FINISH_REASONS": "gen_ai.response.finish_reasons",
    "USAGE_INPUT_TOKENS": "gen_ai.usage.input_tokens",
    "USAGE_OUTPUT_TOKENS": "gen_ai.usage.output_tokens",
    "USAGE_CACHE_READ_INPUT_TOKENS": "gen_ai.usage.cache_read.input_tokens",
    "INPUT_MESSAGES": "gen_ai.input.messages",
    "OUTPUT_MESSAGES": "gen_ai.output.messages",
    "TOOL_NAME": "gen_ai.tool.name",
    "TOOL_CALL_ID": "gen_ai.tool.call.id",
    "AGENT_NAME": "gen_ai.agent.name",
    "DATA_SOURCE_ID": "gen_ai.data_source.id",
    "RETRIEVAL_TOP_K": "gen_ai.retrieval.top_k",
    "RETRIEVAL_QUERY_TEXT": "gen_ai.retrieval.query.text",
    "EMBEDDINGS_DIMENSION_COUNT": "gen_ai.embeddings.dimension.count",
    "TOKEN_TYPE": "gen_ai.token.type",
    "ERROR_TYPE": "error.type",
    "SERVER_ADDRESS": "server.address",
    "SERVER_PORT": "server.port",
    "HTTP_METHOD": "http.request.method",
    "HTTP_ROUTE": "http.route",
    "HTTP_STATUS": "http.response.status_code",
    "URL_PATH": "url.path",
}

GOLDEN_OPERATIONS = {
    "CHAT": "chat",
    "TEXT_COMPLETION": "text_completion",
    "EMBEDDINGS": "embeddings",
    "EXECUTE_TOOL": "execute_tool",
    "INVOKE_AGENT": "invoke_agent",
    "RETRIEVAL": "retrieval",
}


def _constants(holder: type) -> dict[str, str]:
    return {k: v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)}


def test_every_standard_attribute_name_is_the_specs() -> None:
    ours = {k: v for k, v in _constants(Attr).items() if not v.startswith("inferstack.")}
    assert ours == GOLDEN_ATTRIBUTES


def test_our_own_attributes_stay_in_our_namespace() -> None:
    own = {k: v for k, v in _constants(Attr).items() if k not in GOLDEN_ATTRIBUTES}
    assert own, "inferstack attributes exist"
    assert all(v.startswith("inferstack.") for v in own.values())


def test_operation_names_and_span_kinds() -> None:
    assert _constants(Operation) == GOLDEN_OPERATIONS
    assert OPERATION_KIND == {
        "chat": SpanKind.CLIENT,
        "text_completion": SpanKind.CLIENT,
        "embeddings": SpanKind.CLIENT,
        "execute_tool": SpanKind.INTERNAL,
        "invoke_agent": SpanKind.INTERNAL,
        "retrieval": SpanKind.CLIENT,
    }


def test_span_names() -> None:
    assert semconv.inference_span_name("chat", "gemma-3-270m") == "chat gemma-3-270m"
    assert semconv.inference_span_name("chat", None) == "chat"
    assert semconv.embeddings_span_name("all-MiniLM-L6-v2") == "embeddings all-MiniLM-L6-v2"
    assert semconv.tool_span_name("get_weather") == "execute_tool get_weather"
    assert semconv.agent_span_name("supervisor") == "invoke_agent supervisor"
    assert semconv.retrieval_span_name("docs") == "retrieval docs"
