"""One replica in the simulator: a FIFO queue in front of ``slots`` continuously batched
sequences, advanced step by step (runs of identical decode steps are taken in one jump).

Times are simulation seconds. The replica never looks at a clock: the simulator tells it the
time with every call and asks it when its next step ends (:attr:`Replica.next_event`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from inferstack.plan.service import ServiceModel
from inferstack.plan.workload import SimRequest

__all__ = ["Recorder", "Replica"]


@dataclass
class Recorder:
    """Per-request outcome of a simulation, indexed by request id."""

    requests: list[SimRequest]
    first_token: list[float] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)
    gap_sum: list[float] = field(default_factory=list)
    gap_count: list[int] = field(default_factory=list)
    gaps: dict[float, int] = field(default_factory=dict)
    """Pooled inter-token gaps: duration -> how many tokens arrived that long after the last."""

    def __post_init__(self) -> None:
        n = len(self.requests)
        self.first_token = [math.nan] * n
        self.finish = [math.nan] * n
        self.gap_sum = [0.0] * n
        self.gap_count = [0] * n

    def add_gaps(self, rid: int, gap: float, count: int) -> None:
        if count <= 0:
            return
        self.gap_sum[rid] += gap * count
        self.gap_count[rid] += count
        key = round(gap, 9)
        self.gaps[key] = self.gaps.get(key, 0) + count


@dataclass
class _Seq:
    rid: int
    prompt_left: int
    tokens_left: int
    last_token: float = math.nan


class Replica:
    """A replica's queue and batch; ``on_done(replica, rid, now)`` is called per finished
    request."""

    def __init__(
        self,
        index: int,
        model: ServiceModel,
        recorder: Recorder,
        on_done: Callable[[Replica, int, float], None],
    ) -> None:
        self.index = index
        self.model = model
        self.recorder = recorder
        self.on_done = on_done
        self.waiting: deque[int] = deque()
        self.running: list[_Seq] = []
        self.draining = False
        self.version = 0
        self._t0 = 0.0
        self._dur = 0.0
        self._k = 0  # steps in the current run; 0 = idle
        self._prefill: list[tuple[_Seq, int]] = []  # (sequence, prompt tokens) in this step
        self._ending = False
        self._idle_since = -math.inf  # a new replica has been idle since it started

    @property
    def ongoing(self) -> int:
        return len(self.waiting) + len(self.running)

    @property
    def next_event(self) -> float | None:
        """When the current run of steps ends (None when idle)."""
        return self._t0 + self._k * self._dur if self._k else None

    def submit(self, rid: int, now: float) -> bool:
        """Queue request ``rid``; True when the replica's next event changed."""
        self.waiting.append(rid)
        if self._ending:
            return False  # the step-end handler plans the next step with it
        if not self._k:
            # The step that ends a long enough idle period pays the wake-up (service.py).
            woke = now - self._idle_since >= self.model.idle_after_s
            self._plan(now, self.model.wake_s if woke else 0.0)
            return True
        if self._prefill or self._k == 1:
            return False  # the step in progress ends as planned, then admits it
        self._truncate(now)
        return True

    def _truncate(self, now: float) -> None:
        """Cut the run of identical steps after the step in progress at ``now``."""
        done = min(int((now - self._t0) / self._dur), self._k - 1)
        if done > 0:
            self._emit(done)
            self._t0 += done * self._dur
        self._k = 1
        self.version += 1

    def _emit(self, steps: int) -> None:
        """Apply ``steps`` decode steps to every decoding sequence."""
        t_end = self._t0 + steps * self._dur
        for seq in self.running:
            if seq.prompt_left:  # still prefilling (this step's chunk or a later one)
                continue
            first_gap = self._t0 + self._dur - seq.last_token
            self.recorder.add_gaps(seq.rid, first_gap, 1)
            self.recorder.add_gaps(seq.rid, self._dur, steps - 1)
            seq.tokens_left -= steps
            seq.last_token = t_end

    def step_end(self, now: float) -> None:
        """The current run of steps ended at ``now``: emit, finish, admit, plan the next."""
        self._ending = True
        prefilled = self._prefill
        self._prefill = []
        self._emit(self._k)
        for seq, tokens in prefilled:
            seq.prompt_left -= tokens
            if seq.prompt_left == 0:  # the prompt is in: the first token comes with this step
                self.recorder.first_token[seq.rid] = now
                seq.last_token = now
                seq.tokens_left -= 1
        finished = [s for s in self.running if s.tokens_left <= 0 and not s.prompt_left]
        self.running = [s for s in self.running if s.tokens_left > 0 or s.prompt_left]
        for seq in finished:
            self.recorder.finish[seq.rid] = now
        for seq in finished:
            self.on_done(self, seq.rid, now)
        self._ending = False
        self._plan(now)

    def _plan(self, now: float, wake_s: float = 0.0) -> None:
        model = self.model
        while self.waiting and len(self.running) < model.slots:
            rid = self.waiting.popleft()
            req = self.recorder.requests[rid]
            self.running.append(_Seq(rid, max(req.prompt_tokens, 1), max(req.output_tokens, 1)))
        self.version += 1
        self._t0 = now
        if not self.running:
            self._k = 0
            self._idle_since = now
            return
        pending = [s for s in self.running if s.prompt_left]
        if pending:
            budget = max(model.token_budget - (len(self.running) - len(pending)), 1)
            chunk: list[tuple[_Seq, int]] = []
            for seq in pending:
                if budget <= 0:
                    break
                take = min(seq.prompt_left, budget)
                chunk.append((seq, take))
                budget -= take
            tokens = sum(t for _, t in chunk)
            completing = sum(1 for s, t in chunk if t == s.prompt_left)
            batch = len(self.running) - len(pending) + len(chunk)
            self._prefill = chunk
            self._dur = model.step_s(batch) + model.prefill_s(tokens, completing) + wake_s
            self._k = 1
            return
        self._dur = model.step_s(len(self.running))
        self._k = min(s.tokens_left for s in self.running)
