"""Chunking with the embedding model's real tokenizer."""

from __future__ import annotations

import itertools

import pytest

from inferstack.rag.chunking import Chunker, chunk_id
from inferstack.rag.tokenizer import load_counter
from inferstack.rag.types import Document


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(load_counter(), max_tokens=256, overlap=32)


def long_text(n: int) -> str:
    return " ".join(f"Sentence number {i} talks about widget {i * 7} in detail." for i in range(n))


def test_every_chunk_fits_the_model_and_is_an_exact_span(chunker: Chunker) -> None:
    counter = load_counter()
    doc = Document("d", "s", "# Intro\n\n" + long_text(200) + "\n\nTail paragraph.")
    chunks = chunker.chunk(doc)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        # what the model reads: the text plus [CLS] and [SEP]
        assert counter.count(c.text) + counter.special_tokens <= 256
        assert c.tokens == counter.count(c.text)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_consecutive_chunks_overlap_by_whole_sentences(chunker: Chunker) -> None:
    chunks = chunker.chunk(Document("d", "s", long_text(120)))
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "the next chunk repeats the tail of the previous one"
        overlap = a.text[b.start - a.start :]
        assert 0 < load_counter().count(overlap) <= 32
        assert overlap.startswith("Sentence number")


def test_headings_start_chunks_and_name_the_section(chunker: Chunker) -> None:
    text = "# One\n\nShort first section.\n\n## Two\n\nShort second section.\n"
    chunks = chunker.chunk(Document("d", "s", text))
    assert [c.text.split("\n")[0] for c in chunks] == ["# One", "## Two"]
    assert [c.metadata["section"] for c in chunks] == ["One", "Two"]


def test_paragraphs_stay_whole_when_they_fit(chunker: Chunker) -> None:
    para = " ".join(["Paragraph text that fills space."] * 25)  # about 150 wordpieces
    text = f"{para}\n\n{para.replace('fills', 'takes')}"
    chunks = chunker.chunk(Document("d", "s", text))
    assert len(chunks) == 2
    assert chunks[1].text.startswith("Paragraph text that takes")


def test_a_sentence_longer_than_a_chunk_is_cut_at_wordpieces(chunker: Chunker) -> None:
    text = "word " * 1000
    chunks = chunker.chunk(Document("d", "s", text.strip()))
    assert len(chunks) >= 4
    assert all(c.tokens <= 254 for c in chunks)


def test_ids_are_deterministic_and_track_content(chunker: Chunker) -> None:
    doc = Document("d", "s", long_text(60), {"k": "v"})
    first, again = chunker.chunk(doc), chunker.chunk(doc)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    changed = chunker.chunk(Document("d", "s", doc.text, {"k": "w"}))
    assert {c.chunk_id for c in first}.isdisjoint(c.chunk_id for c in changed)
    assert chunk_id("d", 0, "x") != chunk_id("e", 0, "x") != chunk_id("d", 1, "x")


def test_empty_document_has_no_chunks(chunker: Chunker) -> None:
    assert chunker.chunk(Document("d", "s", "  \n\n ")) == []
