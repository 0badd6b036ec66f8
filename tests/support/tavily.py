"""A local server that speaks Tavily's search API (``POST /search``), for tests without internet.

Like the real service it wants ``Authorization: Bearer KEY`` (401 ``{"detail": {"error": …}}``
otherwise), validates the body (400 for a missing query or ``max_results`` outside 0..20), and
answers ``{"query", "answer", "images", "results": [{title, url, content, score,
raw_content}], "response_time", "request_id"}`` with the pages that share words with the query,
best first; a query that matches nothing gets no results. ``mode`` turns it into a failing
provider: ``status`` (any HTTP status), ``malformed`` (a 200 that is not JSON), ``no_results_key``
(a 200 JSON without ``results``), ``no_url`` (a result without its URL) or ``slow`` (holds the
request until :meth:`TavilyStandIn.release` or the server stops).
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from support.servers import free_port

__all__ = ["PAGES", "Page", "TavilyStandIn", "tavily_server"]


@dataclass(frozen=True)
class Page:
    title: str
    url: str
    content: str


PAGES = [
    Page(
        "Moons of Neptune",
        "https://planets.example.org/neptune/moons",
        "Neptune has sixteen known moons. The largest moon of Neptune is Triton, which orbits "
        "the planet backwards.",
    ),
    Page(
        "Neptune, the eighth planet",
        "https://planets.example.org/neptune",
        "Neptune is the eighth planet from the Sun, an ice giant with the fastest winds of "
        "any planet.",
    ),
    Page(
        "How sonar works",
        "https://ocean.example.org/sonar",
        "Submarine sonar sends sound pulses and listens for their echoes; low frequencies "
        "travel farther under water.",
    ),
]
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"a", "an", "and", "are", "does", "do", "for", "has", "have", "how", "is", "many"}
_STOP |= {"of", "on", "the", "to", "what", "which", "who", "with"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"error": message}}, status_code=status)


@dataclass
class TavilyStandIn:
    url: str
    """The search endpoint (``http://127.0.0.1:PORT/search``)."""
    key: str
    pages: list[Page]
    requests: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"
    status: int = 503
    _released: threading.Event = field(default_factory=threading.Event)

    def fail(self, mode: str, status: int = 503) -> None:
        self.mode, self.status = mode, status
        self._released.clear()

    def heal(self) -> None:
        self.mode = "ok"
        self.release()

    def release(self) -> None:
        """Let requests held by the ``slow`` mode go (they then answer normally)."""
        self._released.set()

    def search(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        query = _words(body["query"])
        scored = []
        for page in self.pages:
            shared = query & _words(f"{page.title} {page.content}")
            if shared:
                scored.append((len(shared) / len(query), page))
        scored.sort(key=lambda sp: -sp[0])
        return [
            {
                "title": p.title,
                "url": p.url,
                "content": p.content,
                "score": round(score, 4),
                "raw_content": None,
            }
            for score, p in scored[: body.get("max_results", 5)]
        ]


def build_app(state: TavilyStandIn) -> FastAPI:
    app = FastAPI()

    @app.post("/search")
    async def search(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON body.")
        state.requests.append({"body": body, "authorization": auth})
        if auth != f"Bearer {state.key}":
            return _error(401, "Unauthorized: missing or invalid API key.")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _error(400, "Query is missing.")
        n = body.get("max_results", 5)
        if not isinstance(n, int) or not 0 <= n <= 20:
            return _error(400, "max_results must be between 0 and 20.")
        if state.mode == "slow":
            await asyncio.to_thread(state._released.wait, 60)
        if state.mode == "status":
            return _error(state.status, "Internal error.")
        if state.mode == "malformed":
            return PlainTextResponse("<html>upstream maintenance</html>")
        if state.mode == "no_results_key":
            return JSONResponse({"query": body["query"], "detail": "partial"})
        results = state.search(body)
        if state.mode == "no_url":
            results = [{k: v for k, v in r.items() if k != "url"} for r in results]
        return JSONResponse(
            {
                "query": body["query"],
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": results,
                "response_time": 0.01,
                "request_id": str(uuid.uuid4()),
            }
        )

    return app


@contextmanager
def tavily_server(
    key: str = "tvly-test-key", pages: list[Page] | None = None
) -> Iterator[TavilyStandIn]:
    """Serve the stand-in on 127.0.0.1 (a free port) until the block ends."""
    port = free_port()
    state = TavilyStandIn(f"http://127.0.0.1:{port}/search", key, list(pages or PAGES))
    server = uvicorn.Server(
        uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the Tavily stand-in did not start")
        started.wait(0.02)
    try:
        yield state
    finally:
        state.release()
        server.should_exit = True
        thread.join(timeout=10)
