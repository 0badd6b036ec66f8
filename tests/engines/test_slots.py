from inferstack.engines.llamacpp.slots import SlotTable, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def test_new_request_takes_the_free_slot_with_the_longest_prefix() -> None:
    table = SlotTable(3, allow_copy=False)
    table.slots[0].tokens = [9, 9, 9]
    table.slots[1].tokens = [1, 2, 3, 4]
    plan = table.plan([1, 2, 3, 7, 8])
    assert plan is not None
    assert plan.slot.seq_id == 1
    assert plan.reuse == 3
    assert plan.copy_from is None


def test_reuse_never_covers_the_whole_prompt() -> None:
    """The last prompt token must be decoded again to get logits for the first output."""
    table = SlotTable(1, allow_copy=False)
    table.slots[0].tokens = [1, 2, 3, 4, 5]
    plan = table.plan([1, 2, 3])
    assert plan is not None and plan.reuse == 2


def test_busy_slots_are_not_planned_and_full_table_waits() -> None:
    table = SlotTable(2, allow_copy=False)
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
    table = SlotTable(3, allow_copy=True)
    system = list(range(100, 150))
    first = table.plan([*system, 1, 2])
    assert first is not None
    busy = table.acquire(first, [*system, 1, 2])
    busy.tokens = [*system, 1, 2]  # the scheduler records what it prefilled
    plan = table.plan([*system, 7, 8, 9])
    assert plan is not None
    assert plan.copy_from is busy
    assert plan.slot is not busy
    assert plan.reuse == len(system)
    slot = table.acquire(plan, [*system, 7, 8, 9])
    assert slot.tokens == system


def test_without_unified_cache_no_copy_is_planned() -> None:
    table = SlotTable(2, allow_copy=False)
    table.slots[0].tokens = [1, 2, 3, 4]
    table.slots[0].busy = True
    plan = table.plan([1, 2, 3, 9])
    assert plan is not None and plan.copy_from is None and plan.reuse == 0


def test_least_recently_used_slot_is_evicted_first() -> None:
    table = SlotTable(2, allow_copy=False)
    a = table.plan([1])
    assert a is not None
    table.release(table.acquire(a, [1]))
    b = table.plan([2])
    assert b is not None and b.slot.seq_id != a.slot.seq_id


def test_reuse_can_be_refused() -> None:
    table = SlotTable(2, allow_copy=True)
    table.slots[0].tokens = [1, 2, 3, 4]
    plan = table.plan([1, 2, 3, 9], allow_reuse=False)
    assert plan is not None and plan.reuse == 0 and plan.copy_from is None


def test_forget_empties_every_slot() -> None:
    table = SlotTable(2, allow_copy=True)
    table.slots[0].tokens = [1, 2]
    table.slots[1].tokens = [3]
    table.forget()
    assert table.cached_tokens() == 0
