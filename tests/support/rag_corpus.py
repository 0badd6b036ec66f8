"""A generated corpus for the RAG end-to-end tests: distractor text with planted facts."""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["FACTS", "write_corpus"]

FACTS = {
    "zorblax.md": (
        "The Zorblax reactor on Kepler station runs on frozen helium-3 pellets.",
        "What fuel does the Zorblax reactor on Kepler station run on?",
    ),
    "quarnia.txt": (
        "The capital of the island nation of Quarnia is Velmora, a city of 300 bridges.",
        "What is the capital of Quarnia?",
    ),
    "orchid.md": (
        "The ghost orchid Dendrophylax tundrae blooms only after the first snowfall in Patagonia.",
        "When does the ghost orchid Dendrophylax tundrae bloom?",
    ),
    "ledger.html": (
        "The Hollow Ledger accounting system rounds every invoice to the nearest eleven cents.",
        "How does the Hollow Ledger system round invoices?",
    ),
}

_TOPICS = [
    ("gardening", ["soil", "compost", "seedlings", "watering", "mulch", "pruning", "roses"]),
    ("cooking", ["sauce", "oven", "garlic", "simmer", "dough", "pepper", "braise"]),
    ("cycling", ["gears", "saddle", "tyres", "chain", "climb", "descent", "cadence"]),
    ("astronomy", ["telescope", "nebula", "orbit", "eclipse", "comet", "galaxy", "parallax"]),
    ("carpentry", ["chisel", "oak", "joinery", "plane", "dovetail", "varnish", "clamp"]),
]


def _paragraph(rng: random.Random, topic: str, words: list[str]) -> str:
    sentences = []
    for _ in range(rng.randint(4, 7)):
        a, b, c = rng.sample(words, 3)
        sentences.append(
            f"In {topic}, the {a} matters more than the {b} when you think about the {c}."
        )
    return " ".join(sentences)


def _body(rng: random.Random, paragraphs: int) -> list[str]:
    out = []
    for _ in range(paragraphs):
        topic, words = rng.choice(_TOPICS)
        out.append(_paragraph(rng, topic, words))
    return out


def write_corpus(root: Path, *, filler_files: int = 4, seed: int = 7) -> None:
    """Planted-fact files (md, txt, html) plus ``filler_files`` distractor files."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, (fact, _question) in FACTS.items():
        paragraphs = _body(rng, 3)
        paragraphs.insert(1, fact)
        if name.endswith(".html"):
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            (root / name).write_text(f"<html><body><h1>{name}</h1>{body}</body></html>")
        elif name.endswith(".md"):
            (root / name).write_text(f"# {name}\n\n" + "\n\n".join(paragraphs) + "\n")
        else:
            (root / name).write_text("\n\n".join(paragraphs) + "\n")
    for i in range(filler_files):
        (root / f"filler-{i:03d}.md").write_text(
            f"# Notes {i}\n\n" + "\n\n".join(_body(rng, rng.randint(2, 4))) + "\n"
        )
