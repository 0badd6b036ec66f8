"""The compiled form of a JSON schema: a small graph of nodes the automaton walks.

Nodes are built by :mod:`.schema` and completed by :func:`.graph.finalize`. Graphs may be
cyclic (recursive ``$ref``).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Sequence

__all__ = [
    "BIG",
    "K_ANYOF",
    "K_ARRAY",
    "K_LITERAL",
    "K_NUMBER",
    "K_OBJECT",
    "K_REF",
    "K_STRING",
    "AnyOfNode",
    "ArrayNode",
    "LiteralNode",
    "Node",
    "NumberNode",
    "ObjectNode",
    "Prop",
    "RefNode",
    "StringNode",
    "Trie",
    "json_text",
]

K_OBJECT, K_ARRAY, K_STRING, K_NUMBER, K_LITERAL, K_ANYOF, K_REF = range(7)
BIG = 1 << 60
"""Stands for "no upper limit" in lengths and counts."""


def json_text(value: object) -> str:
    """The canonical (compact, non-ASCII kept) JSON text the automaton generates for a value."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Trie:
    """A character trie over literal ``texts``; ``term`` is the index of the text ending here
    or -1, ``terms`` the sorted indices of all texts in this subtree."""

    __slots__ = ("children", "term", "terms", "texts")

    def __init__(self, texts: tuple[str, ...] = ()) -> None:
        self.children: dict[str, Trie] = {}
        self.term = -1
        self.terms: tuple[int, ...] = ()
        self.texts = texts

    @classmethod
    def build(cls, texts: Sequence[str]) -> Trie:
        texts = tuple(texts)
        root = cls(texts)
        for i, text in enumerate(texts):
            node = root
            node.terms += (i,)
            for ch in text:
                node = node.children.setdefault(ch, cls(texts))
                node.terms += (i,)
            node.term = i
        return root

    def has_term(self, lo: int, hi: int) -> bool:
        """Whether some text in this subtree has an index in ``[lo, hi]``."""
        terms = self.terms
        if lo <= terms[0] and terms[-1] <= hi:
            return True
        i = bisect_left(terms, lo)
        return i < len(terms) and terms[i] <= hi


class Node:
    """Base of compiled nodes. ``min_text`` is the shortest-ish valid JSON text (None: none)."""

    __slots__ = ("kind", "min_text")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.min_text: str | None = None


class Prop:
    """One property of an object node, in declaration order."""

    __slots__ = ("key_text", "name", "node", "required")

    def __init__(self, name: str, node: Node, required: bool) -> None:
        self.name = name
        self.key_text = json_text(name)
        self.node = node
        self.required = required


class ObjectNode(Node):
    """An object. With ``props`` the properties are generated in declaration order, each
    optional one skippable, and nothing else; without them, ``extra`` (if any) admits arbitrary
    keys with that value schema ("free" mode, used for ``json_object``)."""

    __slots__ = ("extra", "first_req", "keys", "props")

    def __init__(self, props: Sequence[Prop], extra: Node | None) -> None:
        super().__init__(K_OBJECT)
        self.props = tuple(props)
        self.extra = extra
        self.keys = Trie()
        self.first_req: tuple[int, ...] = ()

    def index(self) -> None:
        """Build the key trie and, per position, the first required property at or after it."""
        n = len(self.props)
        self.keys = Trie.build([p.key_text for p in self.props])
        first = [n] * (n + 1)
        for j in range(n - 1, -1, -1):
            first[j] = j if self.props[j].required else first[j + 1]
        self.first_req = tuple(first)


class ArrayNode(Node):
    __slots__ = ("items", "max_items", "min_items")

    def __init__(self, items: Node, min_items: int, max_items: int) -> None:
        super().__init__(K_ARRAY)
        self.items = items
        self.min_items = min_items
        self.max_items = max_items


class StringNode(Node):
    """A free string; ``counted`` is 1 when its length must be tracked, else 0."""

    __slots__ = ("counted", "max_length", "min_length")

    def __init__(self, min_length: int = 0, max_length: int = BIG) -> None:
        super().__init__(K_STRING)
        self.min_length = min_length
        self.max_length = max_length
        self.counted = int(min_length > 0 or max_length < BIG)
        self.min_text = '"' + "a" * min_length + '"'


class NumberNode(Node):
    """A number; ``lo``/``hi`` are inclusive bounds scaled by 10**8 (see :mod:`.numbers`);
    ``memo`` caches which prefixes are viable (bounded numbers only)."""

    __slots__ = ("bounded", "hi", "integer", "lo", "memo", "neg_ok")

    def __init__(self, integer: bool, lo: int | None, hi: int | None) -> None:
        super().__init__(K_NUMBER)
        self.integer = integer
        self.lo = lo
        self.hi = hi
        self.bounded = lo is not None or hi is not None
        self.memo: dict[tuple[bool, str, bool, str], bool] = {}
        self.neg_ok = True


class LiteralNode(Node):
    """A finite set of values (``enum``, ``const``, booleans, null) as canonical JSON texts."""

    __slots__ = ("texts", "trie")

    def __init__(self, texts: Iterable[str]) -> None:
        super().__init__(K_LITERAL)
        self.texts = tuple(dict.fromkeys(texts))
        self.trie = Trie.build(self.texts)
        self.min_text = self.texts[0]


class AnyOfNode(Node):
    """Alternatives; ``flat`` lists them with nested ``anyOf`` and references flattened."""

    __slots__ = ("alts", "flat")

    def __init__(self, alts: Sequence[Node]) -> None:
        super().__init__(K_ANYOF)
        self.alts = tuple(alts)
        self.flat: tuple[Node, ...] = ()


class RefNode(Node):
    """A ``$ref``; ``target`` is set once the referenced schema is compiled."""

    __slots__ = ("final", "ref", "target")

    def __init__(self, ref: str) -> None:
        super().__init__(K_REF)
        self.ref = ref
        self.target: Node | None = None
        self.final: Node | None = None
