"""Benchmark peer: the reference solution's serving design, rebuilt for comparison only.

llama-cpp-python's high-level ``Llama`` object behind one FastAPI handler that serves one
request at a time (a lock around the whole generation), wrapping the last user message as
``Q: … A:`` like the reference did, but streaming and with token usage so the benchmark can
measure it fairly. This is *not* part of inferstack's product: it is the baseline that the
continuous-batching server is measured against.

Run: ``python -m inferstack.bench.peers.reference_app --model PATH --port PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

__all__ = ["build_reference_app", "main"]


def _prompt(body: dict[str, Any]) -> str:
    if "prompt" in body:
        prompt = body["prompt"]
        return prompt if isinstance(prompt, str) else "".join(prompt)
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return f"Q: {content}\nA:"


def _chunk(kind: str, rid: str, model: str, text: str, finish: str | None) -> dict[str, Any]:
    if kind == "chat":
        delta = {"content": text} if text else {}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice, obj = {"index": 0, "text": text, "finish_reason": finish}, "text_completion"
    return {
        "id": rid,
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


class _SampleCounter(list[Any]):
    """A ``logits_processor`` list whose one processor counts the sampling steps: the real
    number of generated tokens, whatever the stream merged into one piece."""

    def __init__(self) -> None:
        super().__init__([self._count])
        self.count = 0

    def _count(self, input_ids: Any, scores: Any) -> Any:
        self.count += 1
        return scores


def build_reference_app(model_path: str, threads: int = 2, ctx_size: int = 2048) -> FastAPI:
    """The FastAPI app: one generation at a time, streamed."""
    from llama_cpp import Llama

    llm = Llama(model_path=model_path, n_threads=threads, n_ctx=ctx_size, verbose=False)
    one_at_a_time = asyncio.Lock()
    app = FastAPI(title="reference design (benchmark peer)")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def complete(request: Request) -> Any:
        body = await request.json()
        kind = "chat" if request.url.path.endswith("/chat/completions") else "completions"
        prompt, max_tokens = _prompt(body), int(body.get("max_tokens") or 128)
        generate = functools.partial(
            llm.create_completion,
            prompt,
            max_tokens=max_tokens,
            temperature=float(body.get("temperature", 0.8)),
        )
        rid, model = f"ref-{uuid.uuid4().hex[:12]}", str(body.get("model", "reference"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if not body.get("stream"):
            async with one_at_a_time:
                out = await asyncio.to_thread(generate)
            return JSONResponse(out)

        async def events() -> AsyncIterator[bytes]:
            sampled = _SampleCounter()
            async with one_at_a_time:
                stream = cast(Iterator[Any], generate(stream=True, logits_processor=sampled))
                finish = None
                while (item := await asyncio.to_thread(next, stream, None)) is not None:
                    choice = item["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    if choice.get("text"):
                        data = _chunk(kind, rid, model, choice["text"], None)
                        yield f"data: {json.dumps(data)}\n\n".encode()
            yield f"data: {json.dumps(_chunk(kind, rid, model, '', finish or 'stop'))}\n\n".encode()
            if include_usage:
                # Every sampled token, the end-of-generation one included (as inferstack and
                # llama-server count it), not the streamed pieces: llama-cpp-python merges
                # tokens into one piece while it holds back partial UTF-8 or a stop string.
                prompt_tokens = len(llm.tokenize(prompt.encode()))
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": sampled.count,
                    "total_tokens": prompt_tokens + sampled.count,
                }
                final = {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(final)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # One handler; the completions path is an alias so either endpoint can be benchmarked.
    app.post("/v1/chat/completions")(complete)
    app.post("/v1/completions")(complete)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="GGUF path")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-size", type=int, default=2048)
    args = parser.parse_args(argv)
    app = build_reference_app(args.model, args.threads, args.ctx_size)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
