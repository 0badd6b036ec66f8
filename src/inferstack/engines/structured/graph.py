"""Whole-graph passes over compiled nodes, run once after compiling a schema.

:func:`finalize` resolves references, flattens ``anyOf``, computes the minimal value text of
every node (a least fixed point, so recursive schemas work) and prunes every branch that admits
no finite value, so that each state the automaton can reach has a valid completion.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferstack.engines.structured.nodes import (
    K_ANYOF,
    K_ARRAY,
    K_OBJECT,
    K_REF,
    AnyOfNode,
    ArrayNode,
    Node,
    ObjectNode,
    RefNode,
)

__all__ = ["finalize"]


def _resolve(node: Node) -> Node:
    seen: set[int] = set()
    while isinstance(node, RefNode):
        if id(node) in seen or node.target is None:
            raise ValueError(f"$ref {node.ref!r} refers only to itself")
        seen.add(id(node))
        node = node.target
    return node


def _flatten(node: AnyOfNode) -> tuple[Node, ...]:
    out: dict[int, Node] = {}
    seen: set[int] = set()
    stack: list[Node] = list(reversed(node.alts))
    while stack:
        alt = _resolve(stack.pop())
        if id(alt) in seen:
            continue
        seen.add(id(alt))
        if isinstance(alt, AnyOfNode):
            stack.extend(reversed(alt.alts))
        else:
            out[id(alt)] = alt
    return tuple(out.values())


def _min_of(node: Node) -> str | None:
    """The minimal text of ``node`` from its children's current minimal texts."""
    if isinstance(node, ObjectNode):
        parts = []
        for p in node.props:
            if p.required:
                if p.node.min_text is None:
                    return None
                parts.append(f"{p.key_text}:{p.node.min_text}")
        return "{" + ",".join(parts) + "}"
    if isinstance(node, ArrayNode):
        if node.min_items == 0:
            return "[]"
        item = node.items.min_text
        return None if item is None else "[" + ",".join([item] * node.min_items) + "]"
    if isinstance(node, AnyOfNode):
        texts = [a.min_text for a in node.flat if a.min_text is not None]
        return min(texts, key=len) if texts else None
    if isinstance(node, RefNode):
        assert node.final is not None
        return node.final.min_text
    return node.min_text  # leaves: set when built


def finalize(root: Node, nodes: Sequence[Node]) -> None:
    """Resolve, flatten, compute minimal texts and prune; ValueError if ``root`` has no value."""
    for node in nodes:
        if isinstance(node, RefNode):
            node.final = _resolve(node)
        elif isinstance(node, AnyOfNode):
            node.flat = _flatten(node)
    inner = [n for n in nodes if n.kind in (K_OBJECT, K_ARRAY, K_ANYOF, K_REF)]
    changed = True
    while changed:  # least fixed point: texts only ever go from None to a value
        changed = False
        for node in inner:
            if node.min_text is None:
                node.min_text = _min_of(node)
                changed = changed or node.min_text is not None
    if root.min_text is None:
        raise ValueError("the schema admits no finite value")
    for node in nodes:
        if isinstance(node, ObjectNode):
            node.props = tuple(p for p in node.props if p.node.min_text is not None)
            if node.extra is not None and node.extra.min_text is None:
                node.extra = None
            node.index()
        elif isinstance(node, ArrayNode) and node.items.min_text is None:
            node.max_items = 0
        elif isinstance(node, AnyOfNode):
            node.flat = tuple(a for a in node.flat if a.min_text is not None)
