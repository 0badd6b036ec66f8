"""``inferstack chat``: interactive, streaming terminal chat with any OpenAI-compatible URL."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inferstack.config import default_state_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "chat",
        help="chat in the terminal with any OpenAI-compatible server",
        description=(
            "Interactive chat, streamed. Without --url it uses the local stack recorded by "
            "'inferstack up'. Type /exit (or Ctrl-D) to leave, /reset to forget the conversation."
        ),
    )
    p.add_argument("--url", default=None, help="base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", default=None, help="model id (default: the server's first model)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("OPENAI_API_KEY"),
        help="API key (default: $OPENAI_API_KEY)",
    )
    p.add_argument("--system", default=None, help="system prompt")
    p.add_argument("--max-tokens", type=int, default=256, help="output budget per answer")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where 'inferstack up' recorded the stack",
    )
    p.set_defaults(func=run)


def _base_url(args: argparse.Namespace) -> tuple[str, str | None]:
    from inferstack.cli.stack import read_stack

    if args.url:
        return args.url.rstrip("/"), args.api_key
    stack = read_stack(args.state_dir)
    if not stack:
        raise SystemExit("no --url given and no local stack found; run 'inferstack up' first")
    entry = stack.get("gateway") or stack["chat"]
    key = args.api_key
    if key is None and entry.get("api_key_file"):
        key = Path(entry["api_key_file"]).read_text().strip()
    return str(entry["base_url"]), key


def run(args: argparse.Namespace) -> int:
    import openai

    _quiet_libraries()
    base_url, api_key = _base_url(args)
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "none")
    model = args.model or _chat_model(client)
    history: list[dict[str, str]] = []
    if args.system:
        history.append({"role": "system", "content": args.system})
    print(f"chatting with {model} at {base_url} (/exit to leave, /reset to start over)")
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if line in ("/exit", "/quit"):
            return 0
        if line == "/reset":
            history = history[:1] if args.system else []
            continue
        if not line:
            continue
        history.append({"role": "user", "content": line})
        answer = _stream_answer(client, model, history, args)
        history.append({"role": "assistant", "content": answer})


def _chat_model(client) -> str:  # type: ignore[no-untyped-def]
    """The first listed model that chats: models carry their ``capabilities`` in
    ``/v1/models``; one that lists them without ``chat`` (an embedding model) is skipped."""
    models = client.models.list().data
    for model in models:
        capabilities = getattr(model, "capabilities", None) or (model.model_extra or {}).get(
            "capabilities"
        )
        if capabilities is None or "chat" in capabilities:
            return str(model.id)
    raise SystemExit("the server lists no model that chats; pass --model")


def _quiet_libraries() -> None:
    """HTTP client logs (httpx's INFO line per request) would land in the middle of the
    conversation: the terminal UI shows only the chat."""
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _stream_answer(
    client,
    model: str,
    history: list[dict[str, str]],  # type: ignore[no-untyped-def]
    args: argparse.Namespace,
) -> str:
    import openai

    parts: list[str] = []
    sys.stdout.write("assistant> ")
    try:
        stream = client.chat.completions.create(
            model=model,
            messages=history,
            stream=True,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text = chunk.choices[0].delta.content
                parts.append(text)
                sys.stdout.write(text)
                sys.stdout.flush()
    except openai.APIError as exc:
        sys.stdout.write(f"\n[error] {exc}")
    sys.stdout.write("\n")
    return "".join(parts)
