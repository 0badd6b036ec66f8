"""``inferstack ask QUESTION``: a grounded answer from the knowledge base, with citations."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from inferstack.cli.rag_common import add_kb_arguments, rag_settings

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ask",
        help="answer a question from the knowledge base, with numbered citations",
        description="Retrieve the best chunks, ask the chat model to answer from them only, and "
        "print the answer with its sources. When the knowledge base has no answer: a web "
        "search answers instead if a key is set (INFERSTACK_AGENTS_WEBSEARCH__API_KEY), else "
        "it says so. The route taken is printed with the sources (and is 'route' in --json).",
    )
    p.add_argument("question", help="the question")
    p.add_argument("-k", type=int, default=None, help="chunks given to the model (default: 4)")
    p.add_argument(
        "--mode",
        choices=["vector", "bm25", "hybrid", "rrf", "weighted"],
        default="hybrid",
        help="retrieval mode (default: hybrid)",
    )
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata filter (repeatable; all must match)",
    )
    p.add_argument("--max-tokens", type=int, default=None, help="answer budget")
    p.add_argument("--no-stream", action="store_true", help="print the answer at the end")
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    add_kb_arguments(p)
    p.set_defaults(func=run)


def parse_filters(items: list[str]) -> dict[str, object]:
    """``key=value`` pairs; values that parse as JSON scalars (3, true) keep their type."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--filter {item!r}: expected KEY=VALUE")
        try:
            parsed = json.loads(value)
            out[key] = parsed if isinstance(parsed, int | float | bool) else value
        except json.JSONDecodeError:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Answer the question; traced like the RAG service when the telemetry settings or the
    ``OTEL_*`` variables say so: an ``ask`` span (a child of ``TRACEPARENT`` when the caller
    set one) over ``retrieval {collection}``, ``embeddings {model}`` and ``chat {model}``."""
    import asyncio

    from inferstack.rag.answer import Answerer
    from inferstack.rag.retrieve import open_knowledge_base
    from inferstack.telemetry.semconv import Attr
    from inferstack.telemetry.settings import TelemetrySettings
    from inferstack.telemetry.tracing import Telemetry

    settings = rag_settings(args)
    filters = parse_filters(args.filter)
    tel = Telemetry.from_settings(TelemetrySettings(), service_name="inferstack-ask")

    async def go() -> int:
        kb = open_knowledge_base(settings, tracer=tel.tracer)
        answerer = Answerer(kb, tracer=tel.tracer, record_content=tel.record_content)
        parent = Telemetry.environment_context()
        try:
            with tel.tracer.start_as_current_span("ask", context=parent) as span:
                route = await _answer(args, answerer, filters)
                span.set_attribute(Attr.RAG_ROUTE, route)
            return 0
        finally:
            await answerer.aclose()
            await kb.aclose()

    try:
        return asyncio.run(go())
    finally:
        tel.shutdown()


async def _answer(args: argparse.Namespace, answerer: Any, filters: dict[str, object]) -> str:
    """Print the answer (JSON, whole, or streamed) and its sources; return its route."""
    if args.json or args.no_stream:
        answer = await answerer.answer(
            args.question, k=args.k, mode=args.mode, filters=filters, max_tokens=args.max_tokens
        )
        if args.json:
            print(json.dumps(answer.as_dict()))
        else:
            print(answer.text)
            _print_sources(answer.route, answer.as_dict()["citations"], answer.cited)
        return str(answer.route)
    citations: list[dict[str, object]] = []
    route = "no_answer"
    async for event in answerer.stream(
        args.question, k=args.k, mode=args.mode, filters=filters, max_tokens=args.max_tokens
    ):
        if event["object"] == "rag.citations":
            citations, route = event["citations"], event["route"]
        elif event["object"] == "rag.delta":
            sys.stdout.write(event["delta"])
            sys.stdout.flush()
        else:
            sys.stdout.write("\n")
            _print_sources(route, citations, event["cited"])
    return route


def _print_sources(route: str, citations: list[dict[str, object]], cited: list[int]) -> None:
    """The sources under the answer, then the route it took (knowledge base, web, none)."""
    if citations:
        print("\nSources (web search):" if route == "web_search" else "\nSources:")
    for c in citations:
        mark = "*" if c["index"] in cited else " "
        if c["origin"] == "web":
            print(f" {mark}[{c['index']}] {c['title']} <{c['url']}>")
        else:
            print(
                f" {mark}[{c['index']}] {c['source']}#chunk={c['position']} "
                f"(chars {c['start']}-{c['end']})"
            )
    print(f"\nroute: {route}")
