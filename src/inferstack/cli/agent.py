"""``inferstack agent``: run the tool agent once on a task, or interactively, with MCP servers."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from inferstack.config import default_state_dir

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "agent",
        help="run a tool-using agent on a task (or interactively without one)",
        description=(
            "The agent loop over the OpenAI API with MCP tools. Without --url it uses the "
            "gateway of the local stack recorded by 'inferstack up'. Destructive tools ask "
            "before they run (--yes approves them); without a terminal the run pauses and "
            "prints how to resume it."
        ),
    )
    p.add_argument("task", nargs="?", default=None, help="the task (omit for interactive mode)")
    p.add_argument("--url", default=None, help="OpenAI-compatible base URL")
    p.add_argument("--model", default=None, help="model id (default: the server's first)")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"), help="API key")
    p.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar="SPEC",
        help="MCP server: a URL, 'builtin:NAME[:ROOT]', or a command (repeatable)",
    )
    p.add_argument(
        "--root", type=Path, default=None, help="shorthand for --mcp builtin:filesystem:ROOT"
    )
    p.add_argument("--max-steps", type=int, default=8, help="model calls per run")
    p.add_argument("--tool-choice", default="auto", help="auto, required, none or a tool name")
    p.add_argument("--session", default=None, help="session id (conversation memory)")
    p.add_argument("--yes", action="store_true", help="approve destructive tool calls")
    p.add_argument("--resume", default=None, metavar="RUN_ID", help="resume a paused run")
    p.add_argument("--approve", action="append", default=[], metavar="CALL_ID")
    p.add_argument("--json", action="store_true", help="print the final result as JSON")
    p.add_argument("--state-dir", type=Path, default=default_state_dir())
    p.add_argument("--database", default=None, help="sessions database URL")
    p.set_defaults(func=run)


def _endpoint(args: argparse.Namespace) -> tuple[str, str | None]:
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


def _show(event: Any) -> None:
    from inferstack.agents.runtime import ModelTurnEvent, ToolResultEvent

    if isinstance(event, ModelTurnEvent):
        for c in event.tool_calls:
            print(f"[step {event.step}] {c.name} {c.arguments}", file=sys.stderr)
    elif isinstance(event, ToolResultEvent):
        mark = "error" if event.is_error else "ok"
        print(f"[{event.name} {mark}] {event.output[:300]}", file=sys.stderr)


async def _main(args: argparse.Namespace) -> int:
    import openai

    from inferstack.agents.db import AgentDatabase
    from inferstack.agents.mcp import MCPConnection, parse_spec
    from inferstack.agents.runtime import Agent, FinalEvent, Limits, SessionStore

    base_url, key = _endpoint(args)
    client = openai.AsyncOpenAI(base_url=base_url, api_key=key or "unused", max_retries=0)
    model = args.model or (await client.models.list()).data[0].id
    db = AgentDatabase(args.database or f"sqlite+aiosqlite:///{args.state_dir / 'agents.db'}")
    await db.create()
    specs = [parse_spec(s) for s in args.mcp]
    if args.root is not None:
        specs.append(parse_spec(f"builtin:filesystem:{args.root.resolve()}"))
    interactive = sys.stdin.isatty()

    async def approve(call: Any) -> bool:
        if args.yes:
            return True
        answer = await asyncio.to_thread(input, f"run {call.name} {call.arguments}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    try:
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as stack:
            tools = []
            for spec in specs:
                conn = await stack.enter_async_context(MCPConnection(spec))
                tools += await conn.tools()
            agent = Agent(
                client,
                model,
                SessionStore(db),
                tools=tools,
                limits=Limits(max_steps=args.max_steps),
                tool_choice=args.tool_choice,
                approver=approve if (args.yes or interactive) else None,
            )

            async def once(events: Any) -> FinalEvent:
                final = None
                async for event in events:
                    _show(event)
                    if isinstance(event, FinalEvent):
                        final = event
                assert final is not None
                if args.json:
                    print(final.model_dump_json(indent=2))
                else:
                    print(final.answer)
                if final.reason == "paused":
                    ids = " ".join(f"--approve {c.id}" for c in final.pending)
                    print(
                        f"paused for approval: inferstack agent --resume {final.run_id} {ids}",
                        file=sys.stderr,
                    )
                elif final.reason != "stop":
                    print(f"[stopped: {final.reason}]", file=sys.stderr)
                return final

            if args.resume:
                approvals = {cid: True for cid in args.approve}
                await once(agent.resume(args.resume, approvals))
                return 0
            if args.task:
                await once(agent.stream(args.task, session_id=args.session))
                return 0
            session = args.session
            print(f"agent on {model} with {len(tools)} tools (/exit to leave)")
            while True:
                try:
                    line = (await asyncio.to_thread(input, "you> ")).strip()
                except EOFError:
                    return 0
                if line in ("/exit", "/quit"):
                    return 0
                if line:
                    session = (await once(agent.stream(line, session_id=session))).session_id
    finally:
        await db.close()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
