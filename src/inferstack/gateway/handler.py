"""From an HTTP request to a proxied call: authenticate, read and check the body, admit."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from inferstack.errors import (
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from inferstack.gateway.call import ProxyCall
from inferstack.gateway.guardrail import PiiGuardrail
from inferstack.gateway.key_types import KeyRecord
from inferstack.gateway.keys import KeyService
from inferstack.gateway.limits import Admission, KeyLimits
from inferstack.gateway.proxy import Proxy
from inferstack.gateway.reservation import prompt_estimate, worst_case
from inferstack.gateway.settlement import Settlement
from inferstack.gateway.tracing import GatewayTracer
from inferstack.telemetry.semconv import Attr
from inferstack.telemetry.tracing import Telemetry

__all__ = ["OpenAIHandler", "bearer_key", "read_body"]

_SCAN_OFF_LOOP_BYTES = 64 * 1024
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)


def bearer_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer …`` (or ``x-api-key``), if any."""
    header = request.headers.get("authorization")
    if header:
        match = _BEARER.match(header)
        return match.group(1) if match else None
    return request.headers.get("x-api-key")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; 413 for anything over ``limit`` bytes, before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"request body of {declared} bytes exceeds the {limit}-byte limit"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


class OpenAIHandler:
    """The OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/completions``, …"""

    def __init__(
        self,
        *,
        groups: Mapping[str, object] | list[str],
        keys: KeyService,
        limits: KeyLimits,
        proxy: Proxy,
        settlement: Settlement,
        guardrail: PiiGuardrail | None,
        max_body_bytes: int,
        default_output_tokens: int,
        timeout_s: float,
        tracer: GatewayTracer | None = None,
        capabilities: dict[str, list[str]] | None = None,
    ) -> None:
        # NOTE: the live mapping when given (the pool's groups): models added at run time are
        # served at once.
        self._groups: Mapping[str, object] | set[str] = (
            groups if isinstance(groups, Mapping) else set(groups)
        )
        self._capabilities = dict(capabilities or {})
        self._keys = keys
        self._limits = limits
        self._proxy = proxy
        self._settle = settlement
        self._guardrail = guardrail
        self._max_body = max_body_bytes
        self._default_output_tokens = default_output_tokens
        self._timeout_s = timeout_s
        self._tracer = tracer or GatewayTracer(Telemetry.disabled())

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: only the model groups the caller's key may use."""
        key = await self._keys.authenticate(bearer_key(request))
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "inferstack"}
            | ({"capabilities": self._capabilities[name]} if name in self._capabilities else {})
            for name in list(self._groups)
            if key.allows(name)
        ]
        return JSONResponse({"object": "list", "data": data})

    async def proxy(self, request: Request, endpoint: str) -> Response:
        received_at = time.perf_counter()
        with self._tracer.step("auth"):
            key = await self._keys.authenticate(bearer_key(request))
        KeyService.check_budget(key)
        # NOTE: key, RPM and parallel limits come before the body is read: a key at its limit
        # costs the gateway no buffering, parsing or scanning.
        admission = await self._limits.admit(key)
        call: ProxyCall | None = None
        try:
            call = await self._prepare(request, endpoint, key, admission, received_at)
        finally:
            if call is None:
                await self._settle.release(key, admission)
        call.span = self._tracer.start_call(call)
        if call.span is None:  # nothing recorded: no context to enter
            return await self._proxy.handle(call)
        with self._tracer.within(call.span):
            return await self._proxy.handle(call)

    async def _prepare(
        self,
        request: Request,
        endpoint: str,
        key: KeyRecord,
        admission: Admission,
        received_at: float,
    ) -> ProxyCall:
        raw = await read_body(request, self._max_body)
        body = self._parse(raw)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequestError("'model' is required and must be a string", param="model")
        self._check_model(key, model)
        stream = body.get("stream") is True and endpoint != "/embeddings"
        options = body.get("stream_options")
        wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        changed = False
        if self._guardrail is not None:
            with self._tracer.step("guardrail input") as span:
                # NOTE: a big body is scanned off the event loop (the scan is linear, but 8 MB
                # of text still takes a while, and every other request would wait for it).
                if len(raw) > _SCAN_OFF_LOOP_BYTES:
                    changed = await asyncio.to_thread(self._guardrail.check_request, body)
                else:
                    changed = self._guardrail.check_request(body)
                span.set_attribute(Attr.GUARDRAIL_CHANGED, changed)
        worst = worst_case(
            endpoint,
            body,
            raw,
            self._proxy.deployments(model, key),
            default_output_tokens=self._default_output_tokens,
            timeout_s=self._timeout_s,
        )
        await self._limits.reserve(
            key,
            admission,
            worst.tokens,
            worst.cost,
            self._keys.spend_of(key),
            {scope.name: self._keys.scope_spend(scope) for scope in key.scopes},
        )
        return ProxyCall(
            request_id=request_id(request),
            endpoint=endpoint,
            body=body,
            raw=raw,
            model_group=model,
            stream=stream,
            wants_usage=wants_usage,
            body_changed=changed,
            key=key,
            received_at=received_at,
            admission=admission,
            prompt_estimate=prompt_estimate(raw),
        )

    def _check_model(self, key: KeyRecord, model: str) -> None:
        if model not in self._groups:
            raise NotFoundError(
                f"model '{model}' does not exist on this gateway",
                param="model",
                code="model_not_found",
            )
        if not key.allows(model):
            raise PermissionDeniedError(
                f"this key may not use model '{model}'", param="model", code="model_not_allowed"
            )

    @staticmethod
    def _parse(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw, object_pairs_hook=_unique_keys)
        except _DuplicateKeyError as exc:
            raise InvalidRequestError(
                f"the request body repeats the key '{exc.key}'; send each field once",
                param=exc.key,
            ) from exc
        except ValueError as exc:
            raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidRequestError("the request body must be a JSON object")
        return body


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse a JSON object that names a key twice: parsers disagree on which one wins, and the
    gateway must authorize and bill exactly what the upstream will run."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _DuplicateKeyError(name)
        out[name] = value
    return out
