"""Agent benchmark: scripted multi-step tasks with known tool sequences and answers.

Not a test: a measurement. Each task runs the agent loop against an OpenAI-compatible URL
(our gateway or model server with grammar-enforced calls, or llama-server without
enforcement) with the task's tools, then checks the calls made and the end state. Reports
task success (pass^1 over all runs, pass^k: every one of k runs of a task passed) and
tool-call validity (calls that named a real tool with arguments that parse and validate)::

    python -m inferstack.agents.benchmark --url http://127.0.0.1:8000/v1 --model gemma-3-270m \\
        --repeat 3 --concurrency 4 --out agents-bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from inferstack.agents.db import AgentDatabase
from inferstack.agents.mcp import MCPConnection, MCPServerSpec
from inferstack.agents.mcp.servers.filesystem import build_filesystem_server
from inferstack.agents.runtime import Agent, FinalEvent, Limits, SessionStore
from inferstack.agents.tools import Tool

__all__ = ["TASKS", "Task", "main"]

WEATHER = {"paris": 18, "tokyo": 24, "oslo": 3, "lima": 20, "cairo": 31, "rome": 22}
DOCS = {
    "refunds": "Refunds are paid back within 14 days.",
    "shipping": "Parcels to Norway take 5 working days.",
    "support": "Support answers from 9 to 17 on weekdays.",
    "warranty": "The warranty lasts 2 years.",
    "returns": "Returns are free within 30 days.",
}
INVALID_PREFIXES = ("invalid arguments", "the arguments are not valid JSON", "unknown tool")


def get_weather(city: str) -> dict[str, Any]:
    """Current temperature in celsius for a city."""
    key = city.strip().lower()
    if key not in WEATHER:
        raise ValueError(f"no weather for {city}")
    return {"city": city, "temperature_c": WEATHER[key]}


def search_docs(query: str) -> list[dict[str, str]]:
    """Search the company handbook; returns matching passages with their ids."""
    words = set(re.findall(r"\w+", query.lower()))
    hits = [
        {"id": k, "text": v}
        for k, v in DOCS.items()
        if words & set(re.findall(r"\w+", (k + " " + v).lower()))
    ]
    return hits[:3]


@dataclass
class Task:
    name: str
    prompt: str
    tools: list[str]
    calls: list[str]
    """The tool names the task needs, in order."""
    check: Callable[[FinalEvent, Path], bool]
    files: dict[str, str] = field(default_factory=dict)


def _file_is(path: str, text: str) -> Callable[[FinalEvent, Path], bool]:
    return lambda _f, root: (root / path).is_file() and text in (root / path).read_text()


def _used(name: str, arg: str, value: str) -> Callable[[FinalEvent, Path], bool]:
    def check(final: FinalEvent, _root: Path) -> bool:
        for r in final.tool_results:
            if r.name == name and not r.is_error:
                args = json.loads(r.arguments)
                if str(args.get(arg, "")).strip().lower() == value.lower():
                    return True
        return False

    return check


def _both(*checks: Callable[[FinalEvent, Path], bool]) -> Callable[[FinalEvent, Path], bool]:
    return lambda f, r: all(c(f, r) for c in checks)


def _tasks() -> list[Task]:
    fs = ["read_file", "write_file", "list_directory", "search_files"]
    tasks: list[Task] = []
    for word, name in [
        ("hello", "a.txt"),
        ("banana", "fruit.txt"),
        ("42", "answer.txt"),
        ("done", "status.txt"),
        ("milk", "shopping.txt"),
        ("blue", "colour.txt"),
    ]:
        tasks.append(
            Task(
                f"write-{name}",
                f"Write the text {word} into the file {name}.",
                fs,
                ["write_file"],
                _file_is(name, word),
            )
        )
    for name, text in [
        ("notes.txt", "call mom"),
        ("todo.md", "fix the bike"),
        ("plan.txt", "launch on monday"),
        ("memo.txt", "budget approved"),
    ]:
        tasks.append(
            Task(
                f"read-{name}",
                f"Read the file {name}.",
                fs,
                ["read_file"],
                _used("read_file", "path", name),
                files={name: text},
            )
        )
    for src, dst, text in [
        ("draft.txt", "final.txt", "version two"),
        ("in.txt", "out.txt", "copy me"),
        ("a.md", "b.md", "same text"),
    ]:
        tasks.append(
            Task(
                f"copy-{src}",
                f"Read {src} and write its text into {dst}.",
                fs,
                ["read_file", "write_file"],
                _file_is(dst, text),
                files={src: text},
            )
        )
    for pattern, files in [
        ("*.md", {"x.md": "x", "y.txt": "y"}),
        ("*.csv", {"d.csv": "1,2"}),
        ("*.log", {"app.log": "ok"}),
    ]:
        tasks.append(
            Task(
                f"search-{pattern}",
                f"Find the files matching {pattern}.",
                fs,
                ["search_files"],
                _used("search_files", "pattern", pattern),
                files=files,
            )
        )
    for city in WEATHER:
        tasks.append(
            Task(
                f"weather-{city}",
                f"What is the temperature in {city.title()}?",
                ["get_weather"],
                ["get_weather"],
                _used("get_weather", "city", city),
            )
        )
    for city in ("paris", "oslo", "rome"):
        tasks.append(
            Task(
                f"weather-to-file-{city}",
                f"Get the temperature in {city.title()} and write it into {city}.txt.",
                ["get_weather", *fs],
                ["get_weather", "write_file"],
                _file_is(f"{city}.txt", str(WEATHER[city])),
            )
        )
    for topic, query in [
        ("refunds", "refunds"),
        ("shipping", "shipping"),
        ("support", "support"),
        ("warranty", "warranty"),
        ("returns", "returns"),
    ]:
        tasks.append(
            Task(
                f"docs-{topic}",
                f"Search the handbook for {query}.",
                ["search_docs"],
                ["search_docs"],
                _used("search_docs", "query", query),
            )
        )
    tasks.append(
        Task(
            "docs-to-file",
            "Search the handbook for warranty and write the answer into warranty.txt.",
            ["search_docs", *fs],
            ["search_docs", "write_file"],
            _file_is("warranty.txt", "2"),
        )
    )
    return tasks


TASKS = _tasks()


async def _run_task(
    task: Task, client: openai.AsyncOpenAI, model: str, db: AgentDatabase, max_steps: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agents-bench-") as tmp:
        root = Path(tmp)
        for name, text in task.files.items():
            (root / name).write_text(text)
        local = {
            "get_weather": Tool.from_function(get_weather),
            "search_docs": Tool.from_function(search_docs),
        }
        spec = MCPServerSpec(name="fs", server=build_filesystem_server([root]), trusted=True)
        async with MCPConnection(spec) as fs:
            available = {t.name: t for t in await fs.tools()} | local
            tools = [available[n] for n in task.tools]
            agent = Agent(
                client,
                model,
                SessionStore(db),
                tools=tools,
                tool_choice="auto",
                first_tool_choice="required",
                limits=Limits(max_steps=max_steps, step_max_tokens=128),
            )
            try:
                final = await agent.run(task.prompt)
            except Exception as exc:
                return {"task": task.name, "passed": False, "error": str(exc), "calls": []}
            calls = [r.name for r in final.tool_results]
            valid = [
                not (r.is_error and r.output.startswith(INVALID_PREFIXES))
                for r in final.tool_results
            ]
            sequence_ok = [c for c in calls if c in task.calls][: len(task.calls)] == task.calls
            passed = sequence_ok and task.check(final, root)
            return {
                "task": task.name,
                "passed": passed,
                "calls": calls,
                "valid": valid,
                "reason": final.reason,
                "steps": final.steps,
            }


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    client = openai.AsyncOpenAI(base_url=args.url, api_key=args.api_key, timeout=600, max_retries=0)
    tasks = TASKS[: args.limit] if args.limit else TASKS
    with tempfile.TemporaryDirectory() as tmp:
        db = AgentDatabase(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.create()
        gate = asyncio.Semaphore(args.concurrency)

        async def one(task: Task, i: int) -> dict[str, Any]:
            async with gate:
                result = await _run_task(task, client, args.model, db, args.max_steps)
            result["run"] = i
            print(json.dumps(result), flush=True)
            return result

        runs = await asyncio.gather(*(one(t, i) for t in tasks for i in range(args.repeat)))
        await db.close()
    by_task: dict[str, list[bool]] = {}
    for r in runs:
        by_task.setdefault(r["task"], []).append(r["passed"])
    validity = [v for r in runs for v in r.get("valid", [])]
    return {
        "url": args.url,
        "model": args.model,
        "tasks": len(by_task),
        "repeat": args.repeat,
        "concurrency": args.concurrency,
        "pass^1": sum(r["passed"] for r in runs) / len(runs),
        f"pass^{args.repeat}": sum(all(v) for v in by_task.values()) / len(by_task),
        "tool_calls": len(validity),
        "tool_call_validity": (sum(validity) / len(validity)) if validity else None,
        "failed_tasks": sorted(name for name, passed in by_task.items() if not all(passed)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True, help="OpenAI-compatible base URL (…/v1)")
    p.add_argument("--model", required=True)
    p.add_argument("--api-key", default="unused")
    p.add_argument("--repeat", type=int, default=3, help="runs per task (pass^k with k=repeat)")
    p.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    p.add_argument("--max-steps", type=int, default=4)
    p.add_argument(
        "--concurrency", type=int, default=1, help="task runs in flight at once (default 1)"
    )
    p.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    args = p.parse_args(argv)
    summary = asyncio.run(_bench(args))
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
