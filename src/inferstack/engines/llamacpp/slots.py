"""Slot bookkeeping for prompt-prefix reuse (pure Python; the scheduler applies the plans).

Each slot is one llama.cpp sequence id and remembers which tokens its KV cells hold. A new
request may borrow the longest cached prefix of its prompt from any slot, busy or not, by
copying it, so a shared system prompt is prefilled once.

Where the request goes depends on the cache's layout:

- a unified KV cache (one buffer for all sequences): to the free slot whose own cache shares
  the longest prefix, the least recently used among equals; a copy there is a metadata
  operation;
- per-sequence KV streams (``compact``): to the free slot with the lowest id. llama.cpp decodes
  the streams of one step together only when their ids are consecutive, so the running
  sequences are kept on the lowest ids; a copy there duplicates the source's stream.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = ["Slot", "SlotPlan", "SlotTable", "common_prefix"]


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)
    """Tokens whose KV this sequence holds, at positions 0..len-1."""
    aligned: int = 0
    """Leading tokens whose KV came from whole aligned prefill chunks (what may be reused)."""
    busy: bool = False
    last_used: int = 0
    freed_step: int = 0
    """The step count when the slot was last released (see :meth:`SlotTable.next_move`)."""


@dataclass(frozen=True)
class SlotPlan:
    """Where a prompt goes and how much of it is already in the cache."""

    slot: Slot
    reuse: int
    """Prompt tokens whose KV is reused (never the whole prompt: the last one is decoded)."""
    copy_from: Slot | None = None
    """Copy positions [0, reuse) from this slot instead of trimming the slot's own cache."""
    park: Slot | None = None
    """With ``compact``: first move the slot's own cache, which this request does not use,
    to this free slot (the least recently used), so taking the lowest id evicts what the
    unified layout would evict."""


class SlotTable:
    def __init__(self, n_slots: int, *, compact: bool, chunk: int = 1) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.slots = [Slot(seq_id=i) for i in range(n_slots)]
        self.compact = compact
        self.chunk = chunk
        self._clock = itertools.count(1)
        self.steps = 0
        """Decode steps so far (the scheduler counts them)."""

    def free_count(self) -> int:
        return sum(not s.busy for s in self.slots)

    def plan(
        self, prompt: list[int], *, allow_reuse: bool = True, behind: int = 0
    ) -> SlotPlan | None:
        """Choose a free slot for ``prompt``; ``None`` when every slot is busy.

        Without ``allow_reuse`` the prompt is prefilled from scratch (a slot is still chosen to keep
        the most useful caches of the others). ``behind`` is how many requests wait after this
        one: a cache is not parked on a slot one of them is about to take."""
        free = [s for s in self.slots if not s.busy]
        if not free:
            return None
        limit = max(len(prompt) - 1, 0) if allow_reuse else 0

        def own(s: Slot) -> int:
            usable = min(common_prefix(s.tokens, prompt), limit, s.aligned)
            return usable - usable % self.chunk

        source = max(self.slots, key=own)
        if self.compact:
            target = min(free, key=lambda s: s.seq_id)
            copy_from = source if own(source) > own(target) else None
            reuse = own(copy_from or target)
            spare = [s for s in free if s is not target and s is not copy_from]
            park = None
            if target.tokens and (copy_from is not None or reuse == 0) and len(spare) > behind:
                # Least recently used first: the target's cache itself, if it is the oldest.
                oldest = min(spare, key=lambda s: (bool(s.tokens), s.last_used))
                if not oldest.tokens or oldest.last_used < target.last_used:
                    park = oldest
            return SlotPlan(slot=target, reuse=reuse, copy_from=copy_from, park=park)
        # Best own prefix; among equals, the least recently used slot keeps others' caches.
        target = max(free, key=lambda s: (own(s), -s.last_used))
        if own(source) > own(target):
            victim = min(free, key=lambda s: (own(s) > 0, s.last_used))
            return SlotPlan(slot=victim, reuse=own(source), copy_from=source)
        return SlotPlan(slot=target, reuse=own(target))

    def acquire(self, plan: SlotPlan, prompt: list[int]) -> Slot:
        """Mark the planned slot busy; its cached tokens become the reused prefix."""
        slot = plan.slot
        if plan.park is not None:
            plan.park.tokens, plan.park.aligned = slot.tokens, slot.aligned
            plan.park.last_used = slot.last_used
        slot.busy = True
        slot.last_used = next(self._clock)
        slot.tokens = list(prompt[: plan.reuse])
        slot.aligned = plan.reuse
        return slot

    def prefilled(self, slot: Slot, start: int, tokens: list[int]) -> None:
        """Record prefill tokens the slot computed at ``start`` (one chunk or several); the
        whole aligned chunks among them that extend the aligned prefix become reusable."""
        slot.tokens.extend(tokens)
        if start == slot.aligned and start % self.chunk == 0:
            slot.aligned += len(tokens) - len(tokens) % self.chunk

    def chunk_end(self, n_past: int, prompt_len: int) -> int:
        """Where the prefill chunk that starts at ``n_past`` ends: the next multiple of
        ``chunk``, or the prompt's end."""
        return min((n_past // self.chunk + 1) * self.chunk, prompt_len)

    def release(self, slot: Slot) -> None:
        slot.busy = False
        slot.last_used = next(self._clock)
        slot.freed_step = self.steps

    def next_move(self, *, min_age: int = 0) -> tuple[Slot, Slot] | None:
        """With ``compact``: the free slot with the lowest id below a busy one, and the busy
        slot with the highest id, whose streams are swapped to keep the running sequences on
        consecutive ids (``None`` when they are, or when that free slot was freed less than
        ``min_age`` steps ago: a newcomer usually fills it sooner, and costs no copy). The
        caller swaps the KV streams, then :meth:`swap`."""
        if not self.compact:
            return None
        free = [s for s in self.slots if not s.busy]
        busy = [s for s in self.slots if s.busy]
        if not free or not busy:
            return None
        low = min(free, key=lambda s: s.seq_id)
        high = max(busy, key=lambda s: s.seq_id)
        if low.seq_id > high.seq_id or self.steps - low.freed_step < min_age:
            return None
        return low, high

    @staticmethod
    def swap(a: Slot, b: Slot) -> None:
        """Exchange what two slots hold (their streams were swapped); ids stay in place."""
        a.tokens, b.tokens = b.tokens, a.tokens
        a.aligned, b.aligned = b.aligned, a.aligned
        a.busy, b.busy = b.busy, a.busy
        a.last_used, b.last_used = b.last_used, a.last_used
        a.freed_step, b.freed_step = b.freed_step, a.freed_step

    def forget(self) -> None:
        """The cache was cleared: no slot holds any tokens."""
        for slot in self.slots:
            slot.tokens = []
            slot.aligned = 0

    def cached_tokens(self) -> int:
        return sum(len(s.tokens) for s in self.slots)
