"""Simple factual questions at the server's default settings: is the first answer right?

Each question lists accepted answers; an answer counts when one of them appears in the reply
(case-insensitive, as a word). The request sets nothing but the model and the message, so the
score shows what a newcomer gets from the model's generation defaults and chat format.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from openai import OpenAI

__all__ = ["QUESTIONS", "Result", "main", "run"]

QUESTIONS: list[tuple[str, list[str]]] = [
    ("What is the capital of France?", ["Paris"]),
    ("What is 2 + 2?", ["4", "four"]),
    ("What is the capital of Japan?", ["Tokyo"]),
    ("How many days are in a week?", ["7", "seven"]),
    ("What color is the sky on a clear day?", ["blue"]),
    ("What is the largest planet in our solar system?", ["Jupiter"]),
    ("Who wrote Romeo and Juliet?", ["Shakespeare"]),
    ("What is the capital of Italy?", ["Rome"]),
    ("How many legs does a spider have?", ["8", "eight"]),
    ("What is the chemical symbol for water?", ["H2O"]),
    ("What is the capital of Germany?", ["Berlin"]),
    ("What is 10 minus 3?", ["7", "seven"]),
    ("What planet do we live on?", ["Earth"]),
    ("What is the freezing point of water in Celsius?", ["0", "zero"]),
    ("How many continents are there?", ["7", "seven"]),
    ("What is the capital of Spain?", ["Madrid"]),
    ("What gas do plants absorb from the air?", ["carbon dioxide", "CO2"]),
    ("What is the opposite of hot?", ["cold"]),
    ("How many hours are in a day?", ["24", "twenty-four"]),
    ("What is the capital of the United Kingdom?", ["London"]),
    ("What is 5 times 3?", ["15", "fifteen"]),
    ("Which animal is known as the king of the jungle?", ["lion"]),
    ("What is the capital of Russia?", ["Moscow"]),
    ("What is the boiling point of water in Celsius?", ["100"]),
    ("How many months are in a year?", ["12", "twelve"]),
    ("What is the capital of Egypt?", ["Cairo"]),
    ("What is the first letter of the English alphabet?", ["A"]),
    ("Which ocean is the largest?", ["Pacific"]),
    ("What is the capital of Canada?", ["Ottawa"]),
    ("What do bees make?", ["honey"]),
    ("What is the capital of China?", ["Beijing"]),
    ("How many sides does a triangle have?", ["3", "three"]),
]


@dataclass
class Result:
    question: str
    answer: str
    correct: bool


def _correct(answer: str, accepted: list[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", answer, re.I) for a in accepted)


def run(url: str, model: str | None = None, concurrency: int = 4) -> list[Result]:
    client = OpenAI(base_url=url, api_key="unused", timeout=300, max_retries=0)
    model = model or client.models.list().data[0].id

    def ask(item: tuple[str, list[str]]) -> Result:
        question, accepted = item
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}]
        )
        answer = reply.choices[0].message.content or ""
        return Result(question, answer, _correct(answer, accepted))

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(ask, QUESTIONS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--model", help="model id (default: the first one listed)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.url, args.model)
    right = sum(r.correct for r in results)
    if args.json:
        print(
            json.dumps(
                {"correct": right, "total": len(results), "results": [r.__dict__ for r in results]}
            )
        )
    else:
        for r in results:
            print(f"{'ok ' if r.correct else 'BAD'} {r.question} -> {r.answer.strip()[:80]!r}")
        print(f"factual: {right}/{len(results)} correct ({right / len(results):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
