"""Tool-call quality: exact arguments through ``tool_choice`` ``required`` and ``auto``, and the
``auto`` decision (a call when one is needed, prose when not).

Each case is a user message, the tools offered and the call expected; its values appear in the
message (cities, names, numbers, dates, enum values) or are derived from it (a unit named by a
symbol). ``auto`` is also asked questions no tool answers, where prose is right. Requests use
temperature 0, so a run is reproducible on one machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI

__all__ = ["CASES", "PROSE", "Case", "main", "run"]


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }


WEATHER = _tool("get_weather", "Get the current weather in a city", {"city": {"type": "string"}})
POPULATION = _tool(
    "get_population", "Get the population of a country", {"country": {"type": "string"}}
)
LOOKUP = _tool("find_person", "Look up a person by full name", {"name": {"type": "string"}})
ALARM = _tool(
    "set_timer", "Start a countdown timer", {"minutes": {"type": "integer", "minimum": 1}}
)
FLIGHT = _tool(
    "book_flight",
    "Book a flight to a city on a date",
    {"destination": {"type": "string"}, "date": {"type": "string", "format": "date"}},
)
THERMOSTAT = _tool(
    "set_temperature",
    "Set the thermostat",
    {"degrees": {"type": "integer"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
)
TRANSLATE = _tool(
    "translate",
    "Translate a word into a language",
    {"word": {"type": "string"}, "language": {"enum": ["French", "German", "Spanish"]}},
)
TOOLS_ALL = [WEATHER, POPULATION, LOOKUP, ALARM]


@dataclass
class Case:
    message: str
    tools: list[dict[str, Any]]
    name: str
    arguments: dict[str, Any]
    in_request: bool = True
    """Whether every value appears verbatim in the message (else it is derived from it)."""
    results: dict[str, Any] = field(default_factory=dict)


CITIES = ["Paris", "Tokyo", "Cairo", "Berlin", "Madrid", "Toronto", "Sydney", "Nairobi",
          "Lima", "Oslo", "Mumbai", "Chicago"]  # fmt: skip
COUNTRIES = ["Brazil", "Japan", "Kenya", "Canada", "Norway", "Peru", "India", "Spain"]
PEOPLE = ["Ada Lovelace", "John Smith", "Maria Garcia", "Chen Wei", "Amina Yusuf",
          "Pierre Dubois"]  # fmt: skip


def _cases() -> list[Case]:
    cases: list[Case] = []
    for city in CITIES:
        cases.append(
            Case(f"What is the weather in {city}?", [WEATHER], "get_weather", {"city": city})
        )
        cases.append(
            Case(f"Is it raining in {city} right now?", TOOLS_ALL, "get_weather", {"city": city})
        )
        cases.append(
            Case(
                f"What's the temperature in {city} today?", TOOLS_ALL, "get_weather", {"city": city}
            )
        )
    for country in COUNTRIES:
        cases.append(
            Case(f"Tell me the population of {country}.", [POPULATION, WEATHER], "get_population",
                 {"country": country})
        )  # fmt: skip
        cases.append(
            Case(
                f"How many people live in {country}?",
                [POPULATION],
                "get_population",
                {"country": country},
            )
        )
        cases.append(
            Case(
                f"What is the population of {country}?",
                TOOLS_ALL,
                "get_population",
                {"country": country},
            )
        )
    for person in PEOPLE:
        cases.append(
            Case(f"Find {person} in the directory.", [LOOKUP], "find_person", {"name": person})
        )
        cases.append(
            Case(f"Who is {person}? Look them up.", TOOLS_ALL, "find_person", {"name": person})
        )
    for minutes in (2, 7, 12, 40):
        cases.append(
            Case(
                f"Start a {minutes} minute countdown.", TOOLS_ALL, "set_timer", {"minutes": minutes}
            )
        )
    for minutes in (3, 5, 10, 15, 20, 25, 30, 45):
        cases.append(
            Case(f"Set a timer for {minutes} minutes.", [ALARM], "set_timer", {"minutes": minutes})
        )
    for city, date in (
        ("Rome", "2025-03-14"),
        ("Lisbon", "2025-07-01"),
        ("Vienna", "2025-11-20"),
        ("Dublin", "2026-01-05"),
        ("Athens", "2025-09-09"),
        ("Prague", "2026-04-22"),
    ):
        cases.append(
            Case(
                f"Book me a flight to {city} on {date}.",
                [FLIGHT],
                "book_flight",
                {"destination": city, "date": date},
            )
        )
    for degrees, unit, said in (
        (21, "celsius", "21 °C"),
        (68, "fahrenheit", "68 °F"),
        (19, "celsius", "19 degrees Celsius"),
        (72, "fahrenheit", "72 degrees Fahrenheit"),
        (23, "celsius", "23 °C"),
        (65, "fahrenheit", "65 °F"),
    ):
        cases.append(
            Case(
                f"Set the heating to {said}.",
                [THERMOSTAT],
                "set_temperature",
                {"degrees": degrees, "unit": unit},
                in_request="degrees" in said,
            )
        )
    for word, language in (
        ("cat", "French"),
        ("house", "German"),
        ("water", "Spanish"),
        ("book", "French"),
        ("tree", "German"),
        ("friend", "Spanish"),
    ):
        cases.append(
            Case(
                f"Translate the word {word} into {language}.",
                [TRANSLATE],
                "translate",
                {"word": word, "language": language},
            )
        )
    return cases


CASES = _cases()

PROSE: list[tuple[str, list[dict[str, Any]]]] = [
    ("Hello, how are you?", [WEATHER]),
    ("Tell me a joke.", [WEATHER]),
    ("What is 2 + 2?", [WEATHER]),
    ("Thank you very much!", TOOLS_ALL),
    ("Good morning!", TOOLS_ALL),
    ("What is your name?", [POPULATION]),
    ("Write a haiku about autumn.", [LOOKUP]),
    ("What is the capital of France?", [ALARM]),
    ("Say hello.", [FLIGHT]),
    ("How do you spell 'necessary'?", [THERMOSTAT]),
    ("What does 'bonjour' mean?", [WEATHER]),
    ("Nice to meet you.", TOOLS_ALL),
]
"""Messages no offered tool answers: ``auto`` should answer in prose."""


def _call(client: OpenAI, model: str, message: str, tools: list, choice: str) -> tuple | None:
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": message}],
        tools=tools,
        tool_choice=choice,
        temperature=0,
        max_tokens=80,
    )
    calls = reply.choices[0].message.tool_calls
    if not calls:
        return None
    return calls[0].function.name, json.loads(calls[0].function.arguments)


def run(url: str, model: str | None = None, concurrency: int = 8) -> dict[str, Any]:
    """Scores: exact arguments (required, auto; all and values-in-request), auto decisions."""
    client = OpenAI(base_url=url, api_key="unused", timeout=600, max_retries=0)
    model = model or client.models.list().data[0].id
    jobs = [(c, choice) for c in CASES for choice in ("required", "auto")]
    jobs_prose = [(m, t) for m, t in PROSE]
    with ThreadPoolExecutor(concurrency) as pool:
        calls = list(pool.map(lambda j: _call(client, model, j[0].message, j[0].tools, j[1]), jobs))
        prose = list(pool.map(lambda j: _call(client, model, j[0], j[1], "auto"), jobs_prose))
    for (case, choice), got in zip(jobs, calls, strict=True):
        case.results[choice] = got
    report: dict[str, Any] = {"cases": len(CASES), "prose_cases": len(PROSE)}
    for choice in ("required", "auto"):
        exact = [c.results[choice] == (c.name, c.arguments) for c in CASES]
        copied = [ok for ok, c in zip(exact, CASES, strict=True) if c.in_request]
        report[f"{choice}.exact"] = sum(exact) / len(exact)
        report[f"{choice}.exact_in_request"] = sum(copied) / len(copied)
    needed = [c.results["auto"] is not None for c in CASES]
    declined = [got is None for got in prose]
    report["auto.calls_when_needed"] = sum(needed) / len(needed)
    report["auto.prose_when_not"] = sum(declined) / len(declined)
    report["auto.decisions"] = (sum(needed) + sum(declined)) / (len(needed) + len(declined))
    report["misses"] = [
        {"message": c.message, "choice": ch, "got": c.results[ch]}
        for c in CASES
        for ch in ("required", "auto")
        if c.results[ch] != (c.name, c.arguments)
    ]
    report["prose_misses"] = [m for (m, _), got in zip(PROSE, prose, strict=True) if got]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--model", help="model id (default: the first one listed)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    report = run(args.url, args.model)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for miss in report["misses"]:
        print(f"miss [{miss['choice']}] {miss['message']!r} -> {miss['got']}")
    for key, value in report.items():
        if isinstance(value, float):
            print(f"{key:28s} {value:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
