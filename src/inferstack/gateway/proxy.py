"""Send a call upstream: pick a deployment, retry with backoff, fall back, stream or not."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
from opentelemetry.trace import Span
from starlette.responses import Response

from inferstack.errors import (
    InferstackError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamError,
)
from inferstack.gateway.cache import ResponseCache, cache_key, is_cacheable
from inferstack.gateway.call import ProxyCall
from inferstack.gateway.deployments import Deployment, DeploymentPool
from inferstack.gateway.guardrail import PiiGuardrail
from inferstack.gateway.key_types import KeyRecord
from inferstack.gateway.routing import RoutingStrategy
from inferstack.gateway.settings import RouterSettings
from inferstack.gateway.settlement import Settlement
from inferstack.gateway.stream import Relay, RelayResponse
from inferstack.gateway.tracing import GatewayTracer
from inferstack.gateway.usage import Usage
from inferstack.telemetry.semconv import Attr
from inferstack.telemetry.tracing import Telemetry

__all__ = ["Proxy"]

logger = logging.getLogger(__name__)


@dataclass
class _Failed:
    """A failed attempt that may be retried: why, and the upstream's answer if it sent one."""

    kind: str  # connection | timeout | http | unavailable | capacity
    error: InferstackError
    status: int | None = None
    content: bytes = b""
    content_type: str = "application/json"
    retry_after: float | None = None
    retryable: bool = True  # False once the upstream may have run the request to its end


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _upstream_request(
    url: httpx.URL, headers: dict[str, str], content: bytes, timeout: dict[str, float]
) -> httpx.Request:
    """``POST url`` with ``headers`` and ``content``, ``Host`` and ``Content-Length`` added.

    NOTE: built from ready parts (raw headers, the body as a byte stream): given the body and
    a dict, httpx.Request encodes and normalizes them itself, at four times the cost.
    """
    raw = [(b"host", url.netloc)]
    raw += [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    raw.append((b"content-length", b"%d" % len(content)))
    return httpx.Request(
        "POST", url, headers=raw, stream=httpx.ByteStream(content), extensions={"timeout": timeout}
    )


def _body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The chunks of a streamed answer as they arrive.

    NOTE: an answer without a content coding (the gateway asks for none) is read from its
    stream itself: ``aiter_bytes`` passes every chunk through two more generators and a
    decoder that has nothing to do.
    """
    if response.headers.get("content-encoding", "identity") == "identity":
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            return aiter(stream)
    return response.aiter_bytes()


def _usage_of(content: bytes) -> Usage:
    try:
        data = json.loads(content)
    except ValueError:
        return Usage()
    return Usage.from_openai(data.get("usage")) if isinstance(data, dict) else Usage()


class Proxy:
    def __init__(
        self,
        *,
        router: RouterSettings,
        pool: DeploymentPool,
        strategy: RoutingStrategy,
        client: httpx.AsyncClient,
        direct: httpx.AsyncBaseTransport | None = None,
        settlement: Settlement,
        guardrail: PiiGuardrail | None,
        cache: ResponseCache | None,
        cache_shared: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tracer: GatewayTracer | None = None,
    ) -> None:
        self._router = router
        self._pool = pool
        self._strategy = strategy
        self._client = client
        self._direct = direct
        self._settle = settlement
        self._guardrail = guardrail
        self._cache = cache
        self._cache_shared = cache_shared
        self._sleep = sleep
        self._tracer = tracer or GatewayTracer(Telemetry.disabled())
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._connect = {"connect": router.connect_timeout_s}

    async def handle(self, call: ProxyCall) -> Response:
        """Answer ``call``; the call is settled (usage recorded, limits freed) on every path."""
        streaming = False
        try:
            if self._cache is not None and is_cacheable(call.endpoint, call.body):
                with self._tracer.step("cache lookup") as lookup:
                    hit = await self._cache.get(self._cache_key(call))
                    lookup.set_attribute(Attr.CACHE_HIT, hit is not None)
                if hit is not None:
                    # a hit costs nothing upstream but still counts toward the key's TPM
                    usage = _usage_of(hit)
                    await self._settle.done(call, None, usage, 200, cache_hit=True)
                    return Response(
                        hit, media_type="application/json", headers={"x-inferstack-cache": "hit"}
                    )
            response = await self._route(call)
            streaming = isinstance(response, RelayResponse)
            return response
        except InferstackError as exc:
            await self._settle.done(call, None, Usage(), exc.status)
            raise
        finally:
            if not streaming and not call.done:  # cancelled: the client went away
                await self._settle.done(call, None, Usage(), 499)

    def _url(self, dep: Deployment, endpoint: str) -> httpx.URL:
        key = (dep.config.api_base, endpoint)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = httpx.URL(dep.url(endpoint))
        return url

    def _cache_key(self, call: ProxyCall) -> str:
        # NOTE: scoped by key unless the operator shares the cache: otherwise one tenant would
        # read another's answers (and learn what they asked).
        scope = "shared" if self._cache_shared else (call.key.key_id or "master")
        return cache_key(call.endpoint, call.body, scope=scope)

    def _groups(self, group: str, key: KeyRecord) -> list[str]:
        """``group``, then its fallbacks that ``key`` may use (never one it may not)."""
        fallbacks = self._router.fallbacks.get(group, [])
        return [group, *(g for g in fallbacks if key.allows(g))]

    def deployments(self, group: str, key: KeyRecord) -> list[Deployment]:
        """Every deployment a call to ``group`` with ``key`` may end up on."""
        return [dep for g in self._groups(group, key) for dep in self._pool.groups.get(g, [])]

    async def _route(self, call: ProxyCall) -> Response:
        failure: _Failed | None = None
        # 5xx answers not yet blamed on anyone: if another deployment then answers the same
        # request, they were the deployment's fault; if a second one fails the same way, the
        # request's own (it stops there, and no deployment is cooled down for it).
        suspects: list[tuple[Deployment, _Failed]] = []
        for group in self._groups(call.model_group, call.key):
            tried: set[str] = set()
            for attempt in range(self._router.num_retries + 1):
                candidates = self._pool.candidates(group, tried) or self._pool.candidates(group)
                if not candidates:
                    if failure is None:
                        failure = self._unavailable(group)
                    break
                if attempt > 0:
                    await self._sleep(self._backoff(attempt, failure))
                if self._tracer.enabled:
                    with self._tracer.step(
                        f"route {group}", **{Attr.ROUTING_CANDIDATES: [c.id for c in candidates]}
                    ) as decision:
                        dep = self._strategy.choose(candidates)
                        decision.set_attribute(Attr.DEPLOYMENT, dep.id)
                else:
                    dep = self._strategy.choose(candidates)
                tried.add(dep.id)
                result = await self._attempt(call, dep)
                if isinstance(result, Response):
                    for suspect, _ in suspects:
                        if suspect is not dep:
                            self._pool.failed(suspect)
                    return result
                failure = result
                self._settle.metrics.upstream_errors.labels(dep.id, result.kind).inc()
                logger.warning(
                    "%s: attempt %d on %s failed: %s",
                    call.request_id,
                    attempt + 1,
                    dep.id,
                    result.error.message,
                )
                if result.kind in ("connection", "timeout"):
                    self._pool.failed(dep)
                elif result.status is not None and result.status >= 500:
                    if any(seen.status == result.status for _, seen in suspects):
                        return await self._give_up(call, result)
                    suspects.append((dep, result))
                if not result.retryable:
                    return await self._give_up(call, result)
        assert failure is not None
        return await self._give_up(call, failure)

    async def _give_up(self, call: ProxyCall, failure: _Failed) -> Response:
        if failure.status is not None:  # the upstream's own error answer, passed on as is
            await self._settle.done(call, None, Usage(), failure.status)
            return Response(failure.content, failure.status, media_type=failure.content_type)
        raise failure.error

    def _unavailable(self, group: str) -> _Failed:
        reason, wait = self._pool.why_unavailable(group)
        message = f"no deployment of model '{group}' is available: {reason}"
        if "capacity" in reason:
            return _Failed("capacity", RateLimitError(message, retry_after=wait))
        headers = {"Retry-After": str(max(1, round(wait)))} if wait else None
        return _Failed("unavailable", ServiceUnavailableError(message, headers=headers))

    def _backoff(self, attempt: int, failure: _Failed | None) -> float:
        delay = min(
            self._router.retry_backoff_s * 2 ** (attempt - 1), self._router.retry_backoff_max_s
        )
        if failure is not None and failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, self._router.retry_backoff_max_s))
        return delay

    def _upstream_body(self, call: ProxyCall, dep: Deployment) -> bytes:
        ask_usage = call.stream and not call.wants_usage
        if dep.model == call.model_group and not call.body_changed and not ask_usage:
            return call.raw
        body = dict(call.body)
        body["model"] = dep.model
        if call.stream:
            options = body.get("stream_options")
            body["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        return json.dumps(body, ensure_ascii=False).encode()

    def _headers(self, call: ProxyCall, dep: Deployment) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "x-request-id": call.request_id,
        }
        if dep.token is not None:
            headers["authorization"] = f"Bearer {dep.token}"
        return headers

    async def _attempt(self, call: ProxyCall, dep: Deployment) -> Response | _Failed:
        timeout_s = dep.config.timeout_s or self._router.timeout_s
        headers = self._headers(call, dep)
        span = self._tracer.start_attempt(call, dep, headers)
        # NOTE: built here, not by client.build_request: nothing of the client's (default
        # headers, cookies, params) belongs on an upstream call, and merging them costs more
        # than the request itself.
        request = _upstream_request(
            self._url(dep, call.endpoint),
            headers,
            self._upstream_body(call, dep),
            {**self._connect, "read": timeout_s, "write": timeout_s, "pool": timeout_s},
        )
        sent_at = time.perf_counter()
        self._settle.overhead(call, sent_at)
        self._pool.started(dep)
        try:
            if call.stream:  # the relay reads on with the read timeout of every chunk
                response = await self._send(request)
                if response.status_code >= 400:
                    await response.aread()
                    await response.aclose()
            else:
                async with asyncio.timeout(timeout_s):
                    response = await self._send(request)
                    await response.aread()
                    await response.aclose()
        except httpx.ConnectTimeout as exc:  # nothing was sent: safe to try elsewhere
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="connection")
            return _Failed(
                "connection",
                UpstreamError(
                    f"upstream {dep.id} unreachable: {exc!r}", code="upstream_unreachable"
                ),
            )
        except (httpx.TimeoutException, TimeoutError):
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="timeout")
            # NOTE: not retried: the upstream ran the request for the whole timeout, and a
            # replay on every deployment would multiply that (and the caller's wait).
            return _Failed(
                "timeout",
                UpstreamError(
                    f"upstream {dep.id} did not answer within {timeout_s:g}s",
                    code="upstream_timeout",
                ),
                retryable=False,
            )
        except asyncio.CancelledError:  # the client went away: the in-flight count must not leak
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="cancelled")
            raise
        except httpx.TransportError as exc:
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="connection")
            return _Failed(
                "connection",
                UpstreamError(
                    f"upstream {dep.id} unreachable: {exc!r}", code="upstream_unreachable"
                ),
            )
        if response.status_code >= 400 or not call.stream:
            self._tracer.end_attempt(span, status=response.status_code)
        if response.status_code >= 400:
            return await self._upstream_error(call, dep, response)
        if not call.stream:
            return await self._complete(call, dep, response, sent_at)
        return await self._start_stream(call, dep, response, sent_at, span)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, its body still to be read.

        NOTE: a plain-HTTP upstream gets the request from the transport itself: the client's
        layers (auth, redirects, cookie jar) have nothing to do on an upstream call, and
        taking the answer's cookies into the jar cost more than the transport's own work.
        """
        if self._direct is not None and request.url.scheme == "http":
            try:
                return await self._direct.handle_async_request(request)
            except httpx.RequestError as exc:
                exc.request = request  # as the client does
                raise
        return await self._client.send(request, stream=True)

    async def _upstream_error(
        self, call: ProxyCall, dep: Deployment, response: httpx.Response
    ) -> Response | _Failed:
        self._pool.finished(dep)
        status = response.status_code
        content_type = response.headers.get("content-type", "application/json")
        if status == 429 or status >= 500:
            return _Failed(
                "http",
                UpstreamError(f"upstream {dep.id} answered {status}"),
                status,
                response.content,
                content_type,
                _retry_after(response),
            )
        # A client error (400, 404, …): the same request would fail anywhere, so no retry.
        await self._settle.done(call, dep, Usage(), status)
        return Response(response.content, status, media_type=content_type)

    async def _complete(
        self, call: ProxyCall, dep: Deployment, response: httpx.Response, sent_at: float
    ) -> Response:
        elapsed = time.perf_counter() - sent_at
        content = response.content
        usage = Usage()
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict):
            usage = Usage.from_openai(data.get("usage"))
            self._tracer.response(call.span, data)
            if self._guardrail is not None:
                try:
                    if self._guardrail.check_response(data):
                        content = json.dumps(data, ensure_ascii=False).encode()
                except InferstackError:
                    self._pool.finished(dep, usage.total)
                    raise
        self._pool.finished(dep, usage.total)
        self._pool.succeeded(dep, elapsed)
        if self._cache is not None and is_cacheable(call.endpoint, call.body):
            await self._cache.set(self._cache_key(call), content)
        await self._settle.done(call, dep, usage, response.status_code, upstream_s=elapsed)
        return Response(
            content,
            response.status_code,
            media_type=response.headers.get("content-type", "application/json"),
            headers={"x-inferstack-deployment": dep.id},
        )

    async def _start_stream(
        self, call: ProxyCall, dep: Deployment, response: httpx.Response, sent_at: float, span: Span
    ) -> Response | _Failed:
        chunks = _body_chunks(response)
        # Decide the response shape from the first chunk: until it arrives, a retry is safe.
        try:
            first = await anext(chunks, b"")
        except asyncio.CancelledError:
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="cancelled")
            raise
        except httpx.HTTPError as exc:
            await response.aclose()
            self._pool.finished(dep)
            self._tracer.end_attempt(span, status=None, error="connection")
            return _Failed("connection", UpstreamError(f"upstream {dep.id} failed: {exc!r}"))
        first_at = time.perf_counter()

        async def settle(relay: Relay) -> None:
            ended = relay.ended_at or time.perf_counter()
            broke = "stream_broken" if relay.status == 502 else None
            self._tracer.end_attempt(span, status=response.status_code, error=broke)
            self._pool.finished(dep, relay.usage.total)
            if relay.status == 502:
                self._pool.failed(dep)
            elif relay.status == 200:
                self._pool.succeeded(dep, ended - sent_at)
            await self._settle.done(
                call,
                dep,
                relay.usage,
                relay.status,
                upstream_s=ended - sent_at,
                ttft_s=first_at - call.received_at,
            )

        relay = Relay(
            response,
            chunks,
            first,
            strip_usage=not call.wants_usage,
            guardrail=self._guardrail
            if self._guardrail and self._guardrail.settings.on_output
            else None,
            on_close=settle,
            spawn=self._settle.shielded,
            deployment=dep.id,
            prompt_estimate=call.prompt_estimate,
        )
        return RelayResponse(
            relay, headers={"x-inferstack-deployment": dep.id, "cache-control": "no-cache"}
        )
