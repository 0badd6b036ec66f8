"""``WebSearch``: one Tavily-compatible search call, its results typed, its failures explicit.

The request is Tavily's ``POST /search`` (``{"query", "max_results", "search_depth"}`` with
``Authorization: Bearer KEY``); the answer's ``results`` are ``{title, url, content, score}``.
An unreachable or slow provider, a refused key, any other non-200 status and a body that is not
that shape are each a :class:`WebSearchError` naming the web search; only a well-formed answer
with no results is an empty list.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from inferstack.errors import InvalidRequestError, UpstreamError
from inferstack.websearch.settings import WebSearchSettings

__all__ = ["MAX_CONTENT_CHARS", "WebResult", "WebSearch", "WebSearchError"]

MAX_CONTENT_CHARS = 1000
"""Longest snippet kept per result (a prompt holds several)."""


class WebSearchError(UpstreamError):
    """The web-search provider failed (502); ``code`` says how."""

    default_code = "web_search_failed"


@dataclass(frozen=True)
class WebResult:
    """One search result: the page's title, its URL and the provider's snippet of it."""

    title: str
    url: str
    content: str
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url, "content": self.content, "score": self.score}


class WebSearch:
    """A client for one provider; use as ``async with WebSearch(settings) as web: ...``."""

    def __init__(
        self, settings: WebSearchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if settings.api_key is None:
            raise ValueError("web search needs an API key")
        self.settings = settings
        self.http = httpx.AsyncClient(
            timeout=settings.timeout,
            headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def search(self, query: str, max_results: int | None = None) -> list[WebResult]:
        """The provider's results for ``query`` (at most ``max_results``, capped by settings)."""
        if not query.strip():
            raise InvalidRequestError("the search query is empty", param="query")
        limit = min(max(max_results or self.settings.max_results, 1), self.settings.max_results)
        body = {"query": query, "max_results": limit, "search_depth": "basic"}
        r = await self._post(body)
        if r.status_code in (401, 403):
            raise WebSearchError(
                f"web search: the provider refused the API key ({r.status_code})",
                code="web_search_unauthorized",
            )
        if r.status_code != 200:
            raise WebSearchError(
                f"web search: the provider answered {r.status_code}: {r.text[:200]}",
                code="web_search_status",
            )
        return parse_results(r.content, limit)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        url, timeout = self.settings.url, self.settings.timeout
        try:
            # NOTE: httpx's timeout bounds each phase; this bounds the whole call.
            async with asyncio.timeout(timeout):
                return await self.http.post(url, json=body)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise WebSearchError(
                f"web search: the provider at {url} did not answer within {timeout:g} s",
                code="web_search_timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise WebSearchError(
                f"web search: the provider at {url} is unreachable: {exc!r}",
                code="web_search_unreachable",
            ) from exc


def parse_results(content: bytes, limit: int) -> list[WebResult]:
    """Tavily's ``{"results": [{title, url, content, score}, ...]}``; anything else is an error."""
    import json

    try:
        data = json.loads(content)
    except ValueError as exc:
        raise _malformed(f"the answer is not JSON ({exc})") from exc
    items = data.get("results") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise _malformed("the answer has no results list")
    out: list[WebResult] = []
    for i, item in enumerate(items[:limit]):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _malformed(f"results[{i}] has no http(s) url")
        score = item.get("score")
        out.append(
            WebResult(
                title=str(item.get("title") or url),
                url=url,
                content=str(item.get("content") or "")[:MAX_CONTENT_CHARS],
                score=float(score) if isinstance(score, int | float) else None,
            )
        )
    return out


def _malformed(why: str) -> WebSearchError:
    return WebSearchError(
        f"web search: malformed provider answer: {why}", code="web_search_malformed"
    )
