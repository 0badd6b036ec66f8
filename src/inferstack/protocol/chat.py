"""``POST /v1/chat/completions``: the request, the response and the streamed chunk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from inferstack.protocol.base import (
    LogitBias,
    MinP,
    OpenAIModel,
    Penalty,
    PositiveInt,
    RepetitionPenalty,
    ResponseModel,
    Stop,
    Temperature,
    TopK,
    TopP,
    Usage,
    discriminated_by,
    now,
    random_id,
    sampling_options,
    tag,
)
from inferstack.protocol.logprobs import ChoiceLogprobs
from inferstack.protocol.messages import ChatMessage
from inferstack.protocol.tools import (
    ChatTool,
    FunctionCall,
    FunctionDefinition,
    FunctionName,
    ToolCall,
    ToolChoice,
)

__all__ = [
    "ChatChoice",
    "ChatChunkChoice",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatDelta",
    "ChatResponseMessage",
    "DeltaFunctionCall",
    "DeltaToolCall",
    "FinishReason",
    "JSONSchemaFormat",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "StreamOptions",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class JSONSchemaFormat(OpenAIModel):
    """``response_format.json_schema``; the schema itself travels as ``schema``."""

    name: str
    description: str | None = None
    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    @model_serializer(mode="wrap")
    def _schema_by_alias(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        if "schema_" in data:
            data["schema"] = data.pop("schema_")
        return data


class ResponseFormatText(OpenAIModel):
    type: Literal["text"]


class ResponseFormatJSONObject(OpenAIModel):
    type: Literal["json_object"]


class ResponseFormatJSONSchema(OpenAIModel):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


ResponseFormat = Annotated[
    Annotated[ResponseFormatText, tag("type", "text")]
    | Annotated[ResponseFormatJSONObject, tag("type", "json_object")]
    | Annotated[ResponseFormatJSONSchema, tag("type", "json_schema")],
    discriminated_by("type", ["text", "json_object", "json_schema"]),
]


class StreamOptions(OpenAIModel):
    include_usage: bool | None = None


class ChatCompletionRequest(OpenAIModel):
    """A chat completion request, fields in the order of OpenAI's reference."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    frequency_penalty: Penalty | None = None
    logit_bias: LogitBias | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    max_tokens: PositiveInt | None = None
    """Deprecated by OpenAI in favour of ``max_completion_tokens``, still what most clients send."""
    max_completion_tokens: PositiveInt | None = None
    n: PositiveInt | None = 1
    presence_penalty: Penalty | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    stop: Stop | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    tools: list[ChatTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    functions: list[FunctionDefinition] | None = None
    """Legacy form of ``tools``."""
    function_call: Literal["none", "auto"] | FunctionName | None = None
    """Legacy form of ``tool_choice``."""

    # --- inferstack extensions (vLLM / llama.cpp sampling), not in OpenAI's API ---
    top_k: TopK | None = None
    min_p: MinP | None = None
    repetition_penalty: RepetitionPenalty | None = None
    ignore_eos: bool = False
    # --- end of extensions ---

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_needs_logprobs(cls, value: int | None, info: ValidationInfo) -> Any:
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("top_logprobs requires logprobs to be true")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_needs_tools(cls, value: ToolChoice | None, info: ValidationInfo) -> Any:
        if value in (None, "none", "auto"):
            return value
        if not info.data.get("tools"):
            raise ValueError("tool_choice is only allowed when tools are specified")
        return value

    @property
    def effective_max_tokens(self) -> int | None:
        """The output budget: ``max_completion_tokens`` wins over ``max_tokens``."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens

    def sampling_options(self, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for the engine's ``SamplingParams``."""
        logprobs = (self.top_logprobs or 0) if self.logprobs else None
        return sampling_options(self, self.effective_max_tokens, defaults, logprobs=logprobs)

    def message_dicts(self) -> list[dict[str, Any]]:
        """The messages as plain dicts (``None`` fields dropped), as chat templates take them."""
        return [message.model_dump(exclude_none=True) for message in self.messages]


class ChatResponseMessage(ResponseModel):
    """The assistant message of a choice; ``content`` is null when the model only called tools."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"content", "refusal"})

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    """Legacy shape of a call, for requests that sent ``functions``."""


class ChatChoice(ResponseModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"finish_reason", "logprobs"})

    index: int = 0
    message: ChatResponseMessage
    finish_reason: FinishReason | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionResponse(ResponseModel):
    id: str = Field(default_factory=lambda: random_id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class DeltaFunctionCall(ResponseModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(ResponseModel):
    """A piece of a tool call: the first piece has ``id`` and the name, later ones arguments."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall | None = None


class ChatDelta(ResponseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[DeltaToolCall] | None = None
    function_call: DeltaFunctionCall | None = None
    """Legacy shape of a call, for requests that sent ``functions``."""


class ChatChunkChoice(ResponseModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"finish_reason", "logprobs"})

    index: int = 0
    delta: ChatDelta
    finish_reason: FinishReason | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(ResponseModel):
    """One streamed chunk. The usage chunk (``stream_options.include_usage``) has no choices."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"usage"})

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=now)
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
