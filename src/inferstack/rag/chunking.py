"""Token-aware chunking sized to the embedding model, splitting on structure first.

A document is cut into *atoms* — sentences inside paragraphs inside sections (Markdown
headings start sections) — each measured in the embedding model's own wordpieces. Atoms are
packed greedily into chunks of at most ``max_tokens - special tokens`` wordpieces:

- a heading always starts a new chunk;
- a paragraph that no longer fits in the current chunk starts a new one (paragraphs stay whole
  when they can);
- a sentence longer than a chunk is cut at wordpiece boundaries;
- a chunk cut inside a paragraph is followed by one that begins with the last sentences of
  the previous one, up to ``overlap`` wordpieces, so a fact that straddles the cut is still
  found (a cut between paragraphs or sections repeats nothing).

Chunk text is the exact span ``doc.text[start:end]``, so a citation can point at characters.
Chunk ids are ``hash(doc_id) : position : hash(text)``: deterministic, so re-chunking an
unchanged document gives the same ids, and a changed chunk gets a new one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass

from inferstack.rag.tokenizer import TokenCounter
from inferstack.rag.types import Chunk, Document, Metadata, content_hash

__all__ = ["Chunker", "chunk_id"]

_HEADING = re.compile(r"^#{1,6}\s+\S.*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)|\n(?=\S)")


def chunk_id(doc_id: str, position: int, text: str, metadata: Metadata | None = None) -> str:
    """Deterministic chunk id: document id hash, position and hash of content and metadata
    (a metadata change must reach the stores' filter fields too)."""
    doc = hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:16]
    content = text + "\x00" + json.dumps(metadata or {}, sort_keys=True, default=str)
    return f"{doc}:{position}:{content_hash(content)[:16]}"


@dataclass
class _Atom:
    start: int
    end: int
    tokens: int
    section_start: bool = False
    paragraph_start: bool = False
    section: str = ""


class Chunker:
    """Splits documents into chunks that the embedding model reads whole."""

    def __init__(self, counter: TokenCounter, max_tokens: int, overlap: int) -> None:
        self.counter = counter
        self.budget = max_tokens - counter.special_tokens
        if self.budget < 8:
            raise ValueError(f"max_tokens {max_tokens} leaves no room for text")
        self.overlap = min(overlap, self.budget // 2)

    def chunk(self, doc: Document) -> list[Chunk]:
        atoms = self._atoms(doc.text)
        chunks: list[Chunk] = []
        for group in self._pack(atoms):
            start, end = group[0].start, group[-1].end
            text = doc.text[start:end]
            position = len(chunks)
            metadata = dict(doc.metadata)
            if group[0].section:
                metadata["section"] = group[0].section
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, position, text, metadata),
                    doc_id=doc.doc_id,
                    source=doc.source,
                    position=position,
                    start=start,
                    end=end,
                    text=text,
                    tokens=self.counter.count(text),
                    metadata=metadata,
                )
            )
        return chunks

    # -- splitting -----------------------------------------------------------------------

    def _atoms(self, text: str) -> list[_Atom]:
        atoms: list[_Atom] = []
        for sec_start, sec_end, heading in _sections(text):
            first_in_section = True
            for p_start, p_end in _spans(text, sec_start, sec_end, _PARAGRAPH_BREAK):
                first_in_paragraph = True
                for s_start, s_end in _spans(text, p_start, p_end, _SENTENCE_END):
                    for a_start, a_end, tokens in self._fit(text, s_start, s_end):
                        atoms.append(
                            _Atom(
                                a_start,
                                a_end,
                                tokens,
                                section_start=first_in_section,
                                paragraph_start=first_in_paragraph,
                                section=heading,
                            )
                        )
                        first_in_section = first_in_paragraph = False
        return atoms

    def _fit(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """The span as one atom, or cut at wordpiece boundaries when it exceeds a chunk."""
        piece = text[start:end]
        tokens = self.counter.count(piece)
        if tokens <= self.budget:
            return [(start, end, tokens)]
        offsets = self.counter.offsets(piece)
        size = self.budget - self.overlap
        out = []
        for i in range(0, len(offsets), size):
            window = offsets[i : i + size]
            a, b = start + window[0][0], start + window[-1][1]
            out.append((a, b, self.counter.count(text[a:b])))
        return out

    # -- packing -------------------------------------------------------------------------

    def _pack(self, atoms: list[_Atom]) -> list[list[_Atom]]:
        groups: list[list[_Atom]] = []
        current: list[_Atom] = []
        used = 0
        for i, atom in enumerate(atoms):
            if current and atom.section_start:
                groups.append(current)
                current, used = [], 0
            elif current and (
                used + atom.tokens > self.budget
                or (atom.paragraph_start and self._paragraph_moves(atoms, i, used))
            ):
                groups.append(current)
                # A cut inside a paragraph repeats its last sentences; a cut between
                # paragraphs is a natural boundary and needs none.
                current = [] if atom.paragraph_start else self._overlap_tail(current, atom.tokens)
                used = sum(a.tokens for a in current)
            current.append(atom)
            used += atom.tokens
        if current:
            groups.append(current)
        return [self._verified(g) for g in groups]

    def _paragraph_moves(self, atoms: list[_Atom], i: int, used: int) -> bool:
        """A paragraph that fits a chunk but not the rest of this one starts the next."""
        size = _paragraph_tokens(atoms, i)
        return size <= self.budget and used + size > self.budget

    def _overlap_tail(self, previous: list[_Atom], next_tokens: int) -> list[_Atom]:
        tail: list[_Atom] = []
        used = 0
        for atom in reversed(previous[1:]):
            if used + atom.tokens > self.overlap or used + atom.tokens + next_tokens > self.budget:
                break
            tail.insert(0, atom)
            used += atom.tokens
        return tail

    def _verified(self, group: list[_Atom]) -> list[_Atom]:
        # Wordpieces are additive over whitespace-separated spans for BERT tokenizers; this
        # guard keeps the limit even for a tokenizer where joining changes the count.
        while len(group) > 1:
            text_tokens = sum(a.tokens for a in group)
            if text_tokens <= self.budget:
                break
            group = group[:-1]
        return group


def _paragraph_tokens(atoms: list[_Atom], i: int) -> int:
    total = atoms[i].tokens
    for atom in atoms[i + 1 :]:
        if atom.paragraph_start or atom.section_start:
            break
        total += atom.tokens
    return total


def _sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading) of each section; Markdown headings start sections."""
    starts = [m.start() for m in _HEADING.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(text)]
    sections = []
    for a, b in itertools.pairwise(bounds):
        line = text[a:b].split("\n", 1)[0]
        heading = line.lstrip("#").strip() if _HEADING.match(line) else ""
        sections.append((a, b, heading))
    return sections


def _spans(text: str, start: int, end: int, sep: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text[start:end]`` between separators, stripped, as offsets."""
    spans = []
    pos = start
    for m in sep.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for a, b in spans:
        piece = text[a:b]
        stripped = piece.strip()
        if not stripped:
            continue
        lead = len(piece) - len(piece.lstrip())
        out.append((a + lead, a + lead + len(stripped)))
    return out
