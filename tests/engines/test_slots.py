import pytest

from inferstack.engines.llamacpp.slots import SlotTable, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def test_new_request_takes_the_free_slot_with_the_longest_prefix() -> None:
    table = SlotTable(3, compact=False)
    table.slots[0].tokens = [9, 9, 9]
    table.slots[1].tokens = [1, 2, 3, 4]
    for slot in table.slots:
        slot.aligned = len(slot.tokens)
    plan = table.plan([1, 2, 3, 7, 8])
    assert plan is not None
    assert plan.slot.seq_id == 1
    assert plan.reuse == 3
    assert plan.copy_from is None


def test_reuse_never_covers_the_whole_prompt() -> None:
    """The last prompt token must be decoded again to get logits for the first output."""
    table = SlotTable(1, compact=False)
    table.slots[0].tokens = [1, 2, 3, 4, 5]
    table.slots[0].aligned = 5
    plan = table.plan([1, 2, 3])
    assert plan is not None and plan.reuse == 2


def test_busy_slots_are_not_planned_and_full_table_waits() -> None:
    table = SlotTable(2, compact=False)
    for _ in table.slots:
        plan = table.plan([1, 2])
        assert plan is not None
        table.acquire(plan, [1, 2])
    assert table.free_count() == 0
    assert table.plan([1, 2]) is None
    table.release(table.slots[1])
    plan = table.plan([5])
    assert plan is not None and plan.slot.seq_id == 1


def test_unified_cache_borrows_a_prefix_from_a_busy_slot() -> None:
    table = SlotTable(3, compact=False)
    system = list(range(100, 150))
    first = table.plan([*system, 1, 2])
    assert first is not None
    busy = table.acquire(first, [*system, 1, 2])
    busy.tokens = [*system, 1, 2]  # the scheduler records what it prefilled
    busy.aligned = len(busy.tokens)
    plan = table.plan([*system, 7, 8, 9])
    assert plan is not None
    assert plan.copy_from is busy
    assert plan.slot is not busy
    assert plan.reuse == len(system)
    slot = table.acquire(plan, [*system, 7, 8, 9])
    assert slot.tokens == system


def test_streams_keep_running_sequences_on_the_lowest_ids() -> None:
    """With one KV stream per sequence, llama.cpp decodes a step's streams together only when
    their ids are consecutive: a request takes the lowest free id and copies its prefix from
    wherever it is cached, busy or idle."""
    table = SlotTable(4, compact=True)
    table.slots[3].tokens = [1, 2, 3, 4]
    table.slots[3].aligned = 4
    plan = table.plan([1, 2, 3, 9])
    assert plan is not None
    assert plan.slot.seq_id == 0 and plan.copy_from is table.slots[3] and plan.reuse == 3
    first = table.acquire(plan, [1, 2, 3, 9])
    table.prefilled(first, 3, [9])
    plan = table.plan([5, 6])
    assert plan is not None and plan.slot.seq_id == 1 and plan.copy_from is None
    table.acquire(plan, [5, 6])
    # The lowest id freed is the next one taken, even beside a slot with a longer prefix.
    table.release(first)
    plan = table.plan([1, 2, 3, 9, 10])
    assert plan is not None and plan.slot is first and plan.copy_from is None
    assert plan.reuse == 4


def test_streams_copy_nothing_when_no_prefix_is_cached() -> None:
    table = SlotTable(2, compact=True)
    table.slots[1].tokens = [7, 7]
    table.slots[1].aligned = 2
    plan = table.plan([1, 2, 3])
    assert plan is not None and plan.slot.seq_id == 0
    assert plan.copy_from is None and plan.reuse == 0


def test_least_recently_used_slot_is_evicted_first() -> None:
    table = SlotTable(2, compact=False)
    a = table.plan([1])
    assert a is not None
    table.release(table.acquire(a, [1]))
    b = table.plan([2])
    assert b is not None and b.slot.seq_id != a.slot.seq_id


def test_reuse_can_be_refused() -> None:
    table = SlotTable(2, compact=False)
    table.slots[0].tokens = [1, 2, 3, 4]
    table.slots[0].aligned = 4
    plan = table.plan([1, 2, 3, 9], allow_reuse=False)
    assert plan is not None and plan.reuse == 0 and plan.copy_from is None


def test_forget_empties_every_slot() -> None:
    table = SlotTable(2, compact=False)
    table.slots[0].tokens = [1, 2]
    table.slots[1].tokens = [3]
    table.forget()
    assert table.cached_tokens() == 0


def _prefill(table: SlotTable, slot, prompt: list[int]) -> None:
    """Prefill ``prompt`` into ``slot`` the way the scheduler does: aligned chunks."""
    n = len(slot.tokens)
    while n < len(prompt):
        end = table.chunk_end(n, len(prompt))
        table.prefilled(slot, n, prompt[n:end])
        n = end


def test_reuse_stops_at_a_boundary_of_whole_aligned_chunks() -> None:
    table = SlotTable(2, compact=False, chunk=4)
    first = list(range(10))  # chunks [0,4) [4,8) whole, [8,10) partial
    plan = table.plan(first)
    assert plan is not None
    slot = table.acquire(plan, first)
    _prefill(table, slot, first)
    assert slot.tokens == first and slot.aligned == 8
    slot.tokens += [50, 51]  # decoded tokens are cached, never reusable
    table.release(slot)
    # The same prompt again: 8 reused, [8,10) recomputed as the cold start computed it.
    again = table.plan(first)
    assert again is not None and again.reuse == 8
    # A longer prompt sharing 9 tokens still reuses only the whole chunks.
    assert (p := table.plan([*first[:9], 77, 78])) is not None and p.reuse == 8
    # A prompt sharing 7 tokens: only the first chunk.
    assert (p := table.plan([*first[:7], 99])) is not None and p.reuse == 4
    # The prefix of generated tokens is never reused.
    assert (p := table.plan([*first, 50, 51, 52, 53, 54, 55])) is not None and p.reuse == 8


def test_chunks_end_at_absolute_multiples() -> None:
    table = SlotTable(1, compact=False, chunk=64)
    assert table.chunk_end(0, 660) == 64
    assert table.chunk_end(640, 660) == 660
    assert table.chunk_end(100, 660) == 128  # a chunk split by the budget resumes on the grid
    slot = table.slots[0]
    table.prefilled(slot, 0, list(range(40)))  # a split (partial) chunk
    table.prefilled(slot, 40, list(range(40, 64)))
    assert slot.aligned == 0  # computed in other shapes than a cold start: not reusable
    with pytest.raises(ValueError):
        SlotTable(1, compact=False, chunk=0)


def test_several_chunks_at_once_make_their_whole_chunks_reusable() -> None:
    """Beside other sequences a prompt is prefilled in one span: its whole aligned chunks
    count as if computed one by one; a span cut by the budget stops the aligned prefix."""
    table = SlotTable(2, compact=False, chunk=64)
    whole = table.slots[0]
    table.prefilled(whole, 0, list(range(200)))  # [0,192) in three whole chunks, then 8
    assert whole.aligned == 192
    cut = table.slots[1]
    table.prefilled(cut, 0, list(range(100)))  # the budget ended it inside [64,128)
    table.prefilled(cut, 100, list(range(100, 200)))
    assert cut.aligned == 64


def test_streams_park_the_cache_the_lowest_slot_would_lose() -> None:
    """Taking the lowest id must not evict more than the unified layout would: a cache there
    that the request does not use moves to the least recently used free slot."""
    table = SlotTable(3, compact=True)
    first = table.acquire(p := table.plan([1, 2, 3, 4]), [1, 2, 3, 4])  # type: ignore[arg-type]
    assert p is not None and first.seq_id == 0
    table.prefilled(first, 0, [1, 2, 3, 4])
    table.release(first)
    plan = table.plan([8, 9])
    assert plan is not None and plan.slot is first and plan.reuse == 0
    assert plan.park is not None and plan.park.seq_id == 1
    table.acquire(plan, [8, 9])
    assert table.slots[1].tokens == [1, 2, 3, 4] and table.slots[1].aligned == 4
    # The next turn of the first conversation finds its prefix in the parked slot.
    again = table.plan([1, 2, 3, 4, 5])
    assert again is not None and again.slot.seq_id == 1 and again.reuse == 4
    assert again.copy_from is None and again.park is None


def test_streams_move_the_highest_running_slot_into_a_hole() -> None:
    table = SlotTable(4, compact=True)
    slots = [table.acquire(p, [i]) for i in range(3) if (p := table.plan([i])) is not None]
    assert [s.seq_id for s in slots] == [0, 1, 2] and table.next_move() is None
    slots[1].tokens = [7, 7]
    table.release(slots[1])
    move = table.next_move()
    assert move is not None and move == (table.slots[1], table.slots[2])
    table.swap(*move)
    assert [s.busy for s in table.slots] == [True, True, False, False]
    assert table.slots[2].tokens == [7, 7] and table.next_move() is None
    assert SlotTable(2, compact=False).next_move() is None


def test_streams_park_only_where_lru_would_keep_the_cache() -> None:
    table = SlotTable(3, compact=True)
    for slot, used in zip(table.slots, (5, 3, 9), strict=True):
        slot.tokens, slot.aligned, slot.last_used = [slot.seq_id] * 4, 4, used
    # Slot 1's cache is the oldest: it goes, not slot 0's.
    plan = table.plan([7, 7])
    assert plan is not None and plan.slot.seq_id == 0 and plan.park is table.slots[1]
    # The target's own cache is the oldest: nothing moves.
    table.slots[0].last_used = 1
    plan = table.plan([7, 7])
    assert plan is not None and plan.slot.seq_id == 0 and plan.park is None
    # Requests waiting behind this one will take the spare slots: nothing moves either.
    table.slots[0].last_used = 5
    plan = table.plan([7, 7], behind=2)
    assert plan is not None and plan.park is None


def test_a_free_slot_below_a_running_one_waits_for_a_newcomer_first() -> None:
    table = SlotTable(3, compact=True)
    slots = [table.acquire(p, [i]) for i in range(2) if (p := table.plan([i])) is not None]
    table.release(slots[0])
    assert table.next_move(min_age=2) is None
    table.steps += 1
    assert table.next_move(min_age=2) is None
    table.steps += 1
    assert table.next_move(min_age=2) == (slots[0], slots[1])
