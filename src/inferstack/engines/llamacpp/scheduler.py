"""The continuous-batching scheduler: one thread owns the llama.cpp context.

Each step packs one token for every decoding sequence plus prefill chunks of newly admitted
ones into a single batch under a token budget, calls ``llama_decode`` once, samples every
sequence that produced logits with its own sampler chain, and hands the resulting deltas to the
event loop in one callback. Requests arrive on a queue; a cancelled sequence leaves the batch and
frees its slot on the next step.

Only this thread calls into the context: after each decode it reads every output's logits once
and the sampling pool works on those arrays (``batch_sampling.py``). A failure while sampling
one sequence ends that sequence alone; a decode with no room in the KV cache (``llama_decode``
returning 1) ends the sequence that needed the room and the others carry on. On shutdown every
request still in the scheduler gets an error, and nothing is freed until the thread is out of
``llama_decode``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import llama_cpp as ll

from inferstack.engines.base import Delta, FinishReason, TokenLogprob, Usage
from inferstack.engines.llamacpp.batch_sampling import BatchSampler
from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.llamacpp.sampling import free_sampler
from inferstack.engines.llamacpp.sequence import Outbox, Sequence
from inferstack.engines.llamacpp.slots import SlotTable
from inferstack.engines.llamacpp.structured import GrammarVocab, StructuredState
from inferstack.errors import EngineError, ServiceUnavailableError

__all__ = ["Scheduler", "Sequence"]

log = logging.getLogger(__name__)

MOVE_AFTER = 2
"""Steps a free slot below a running sequence waits for a newcomer before that sequence
moves down into it (see :meth:`Scheduler._compact`)."""


class Scheduler:
    """Runs sequences on one :class:`LlamaModel` from a dedicated thread."""

    def __init__(
        self,
        model: LlamaModel,
        *,
        batch_size: int,
        publish: Callable[[Outbox], None],
        grammar: GrammarVocab | None = None,
    ) -> None:
        if batch_size < model.settings.parallel:
            # Every running sequence puts one token in each step's batch.
            raise ValueError(
                f"batch_size ({batch_size}) must be at least parallel ({model.settings.parallel})"
            )
        self.model = model
        self.grammar = grammar
        self.batch_size = batch_size
        self.publish = publish
        # A chunk never exceeds one step's token budget.
        chunk = min(model.settings.prefill_chunk, batch_size)
        self.slots = SlotTable(
            model.settings.parallel, compact=not model.settings.kv_unified, chunk=chunk
        )
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.prefill_saved = 0
        self._inbox: queue.SimpleQueue[Sequence | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._closed = False
        self._submit_lock = threading.Lock()
        self._batch = ll.llama_batch_init(batch_size, 0, 1)
        self._sampling = BatchSampler(model, grammar)
        self._thread = threading.Thread(target=self._run, name="llamacpp-scheduler", daemon=True)

    # -- called from the event loop --------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, seq: Sequence) -> None:
        with self._submit_lock:
            if self._closed or self._stopping.is_set():
                raise ServiceUnavailableError("the server is shutting down")
            self._inbox.put(seq)

    def cancel(self, seq: Sequence) -> None:
        seq.cancelled = True
        self._inbox.put(None)

    def stop(self, timeout: float = 120.0) -> bool:
        """Stop after the current step; every request still here gets an error. Returns
        whether the thread has ended: if not (a decode is stuck), nothing is freed, and the
        caller must not free the model either."""
        self._stopping.set()
        self._inbox.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            log.error("the scheduler thread did not stop; leaving the context allocated")
            return False
        self._sampling.shutdown()
        ll.llama_batch_free(self._batch)
        return True

    def pending_count(self) -> int:
        return len(self.waiting) + self._inbox.qsize()

    # -- the scheduler thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._drain(block=not (self.running or self.waiting))
            outbox: Outbox = []
            self._reap_cancelled()
            self._admit()
            self._compact()
            if self.running:
                try:
                    self._step(outbox)
                except Exception as exc:  # top-level handler of the thread: fail, keep serving
                    log.exception("decode step failed")
                    for seq in list(self.running):
                        self._finish(seq, None, outbox, error=EngineError(f"decode failed: {exc}"))
            if outbox:
                self.publish(outbox)
        self._shut_down()

    def _shut_down(self) -> None:
        """Out of the loop (no decode runs any more): end every request still here."""
        with self._submit_lock:
            self._closed = True
        self._drain(block=False)
        outbox: Outbox = []
        gone = ServiceUnavailableError("the server is shutting down")
        for seq in [*self.running, *self.waiting]:
            if not seq.cancelled:
                outbox.append((seq, gone))
            self._release(seq)
        self.running.clear()
        self.waiting.clear()
        if outbox:
            self.publish(outbox)

    def _drain(self, *, block: bool) -> None:
        items = [self._inbox.get()] if block else []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        self.waiting.extend(item for item in items if item is not None)

    def _reap_cancelled(self) -> None:
        for seq in [s for s in self.waiting if s.cancelled]:
            self.waiting.remove(seq)
            self._release(seq)
        for seq in [s for s in self.running if s.cancelled]:
            self._finish(seq, None, [])

    def _admit(self) -> None:
        while self.waiting:
            # Every request reuses (seeded or not): reuse stops at an aligned chunk boundary,
            # so the recomputed tail has the shapes of a cold start (see slots.py).
            plan = self.slots.plan(self.waiting[0].prompt, behind=len(self.waiting) - 1)
            if plan is None:
                return
            seq = self.waiting.popleft()
            mem, sid = self.model.memory, plan.slot.seq_id
            reuse = plan.reuse
            if plan.park is not None:
                ll.llama_memory_seq_cp(mem, sid, plan.park.seq_id, -1, -1)
            if plan.copy_from is not None:
                # The whole source, then trimmed: llama.cpp copies between KV streams only
                # whole (the buffer copies run before the next decode, in this order).
                ll.llama_memory_seq_rm(mem, sid, -1, -1)
                ll.llama_memory_seq_cp(mem, plan.copy_from.seq_id, sid, -1, -1)
            if not ll.llama_memory_seq_rm(mem, sid, reuse, -1):
                # The cache cannot drop a suffix (recurrent models): start this slot over.
                ll.llama_memory_seq_rm(mem, sid, -1, -1)
                reuse = 0
            seq.slot = self.slots.acquire(plan, seq.prompt)
            if reuse != plan.reuse:
                seq.slot.tokens, seq.slot.aligned = [], 0
            seq.n_past = seq.cached = reuse
            seq.timings.admitted_ns = time.time_ns()
            self.prefill_saved += reuse
            self.running.append(seq)

    def _compact(self) -> None:
        """Keep the running sequences on the lowest slot ids (KV streams): llama.cpp decodes
        streams together only in runs of consecutive ids, so a free slot below a busy one
        splits every step into two decodes (a few steps of that cost about one swap, so a
        slot a newcomer may still fill waits ``MOVE_AFTER`` steps). The highest busy slot's
        stream is swapped with the lowest free one's through the scratch stream, which keeps
        the free slot's cache (a finished conversation's prefix) for reuse. The copies run
        before the next decode."""
        scratch, mem = self.model.scratch_seq, self.model.memory
        while scratch is not None and (move := self.slots.next_move(min_age=MOVE_AFTER)):
            free, busy = move
            keep = bool(free.tokens)
            if keep:
                ll.llama_memory_seq_cp(mem, free.seq_id, scratch, -1, -1)
            ll.llama_memory_seq_cp(mem, busy.seq_id, free.seq_id, -1, -1)
            ll.llama_memory_seq_rm(mem, busy.seq_id, -1, -1)
            if keep:
                ll.llama_memory_seq_cp(mem, scratch, busy.seq_id, -1, -1)
                ll.llama_memory_seq_rm(mem, scratch, -1, -1)
            moved = [seq for seq in self.running if seq.slot is busy]
            self.slots.swap(free, busy)
            for seq in moved:
                seq.slot = free

    def _step(self, outbox: Outbox) -> None:
        self.slots.steps += 1
        batch = self._batch
        n = 0
        outputs: list[tuple[Sequence, int]] = []
        chunks: list[tuple[Sequence, int]] = []

        def add(token: int, pos: int, seq_id: int, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = pos
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq_id
            batch.logits[n] = logits
            n += 1

        budget = self.batch_size - sum(seq.pending is not None for seq in self.running)
        takes: dict[int, int] = {}
        for seq in self.running:
            if budget <= 0:
                break
            if not seq.prefilling:
                continue
            # NOTE: a prompt alone takes one aligned chunk per step, so it is always computed
            # in the same batch shapes, cached prefix or not (a chunk that does not fit the
            # budget is split, and then not reused later). Beside other sequences the shapes
            # depend on them anyway, so it takes all the budget holds: a newcomer's prompt
            # then interrupts the running streams once, not once per chunk.
            alone = len(self.running) == 1
            end = self.slots.chunk_end(seq.n_past, len(seq.prompt)) if alone else len(seq.prompt)
            takes[id(seq)] = take = min(budget, end - seq.n_past)
            budget -= take
        # In sequence-id order: llama.cpp decodes KV streams together only in a run of
        # consecutive ids in batch order (see slots.py).
        for seq in sorted(self.running, key=lambda s: s.slot.seq_id if s.slot else 0):
            assert seq.slot is not None
            if seq.pending is not None:
                outputs.append((seq, n))
                add(seq.pending, len(seq.slot.tokens), seq.slot.seq_id, True)
            elif (take := takes.get(id(seq), 0)) > 0:
                for j in range(seq.n_past, seq.n_past + take):
                    add(seq.prompt[j], j, seq.slot.seq_id, False)
                if seq.n_past + take == len(seq.prompt):
                    batch.logits[n - 1] = True
                    outputs.append((seq, n - 1))
                chunks.append((seq, take))
        batch.n_tokens = n
        rc = ll.llama_decode(self.model.ctx, batch)
        if rc == 1:
            # No room in the KV cache for this batch; llama.cpp changed nothing. End the
            # sequence that needs the room and let the others retry on the next step.
            self._out_of_cache([seq for seq, _ in chunks] or self.running, outbox)
            return
        if rc != 0:
            raise EngineError(f"llama_decode returned {rc}")
        for seq, _ in outputs:
            if seq.pending is not None:
                assert seq.slot is not None
                seq.slot.tokens.append(seq.pending)
                seq.pending = None
        for seq, take in chunks:
            assert seq.slot is not None
            self.slots.prefilled(seq.slot, seq.n_past, seq.prompt[seq.n_past : seq.n_past + take])
            seq.n_past += take
        outputs, failed = self._sampling.constrain(outputs)
        for seq, error in failed:
            self._finish(seq, None, outbox, error=error)
        tokens = self._sampling.sample(outputs)
        sampled_ns = time.time_ns()
        for (seq, index), token in zip(outputs, tokens, strict=True):
            if seq.timings.first_token_ns is None:
                seq.timings.first_token_ns = sampled_ns
            try:
                if isinstance(token, BaseException):
                    raise token
                if seq.structured is not None:
                    self._on_structured(seq, index, token, outbox)
                else:
                    self._on_token(seq, token, outbox)
            except Exception as exc:  # top-level handler of one sequence: it alone fails
                log.exception("sequence %s failed", seq.request.request_id)
                self._finish(seq, None, outbox, error=EngineError(f"generation failed: {exc}"))

    def _out_of_cache(self, candidates: list[Sequence], outbox: Outbox) -> None:
        """Make room: first drop the prefixes idle slots keep for reuse (in a unified cache;
        with KV streams they hold no cell of the stream that is full); if there are none,
        end the sequence holding the most cells among ``candidates`` (the ones prefilling, if
        any: they asked for the new room) and free its cells."""
        slots = [] if self.slots.compact else self.slots.slots
        idle = [slot for slot in slots if not slot.busy and slot.tokens]
        if idle:
            for slot in idle:
                ll.llama_memory_seq_rm(self.model.memory, slot.seq_id, -1, -1)
                slot.tokens = []
            return
        victim = max(candidates, key=lambda s: len(s.slot.tokens) if s.slot else 0)
        log.warning("KV cache full: ending %s", victim.request.request_id)
        if victim.slot is not None:
            ll.llama_memory_seq_rm(self.model.memory, victim.slot.seq_id, -1, -1)
            victim.slot.tokens = []
        error = ServiceUnavailableError(
            "the server ran out of KV cache for this request; retry it, or ask for fewer tokens"
        )
        self._finish(victim, None, outbox, error=error)

    def _on_structured(self, seq: Sequence, index: int, token: int, outbox: Outbox) -> None:
        st = seq.structured
        assert st is not None
        eog = self.model.is_eog(token)
        if not st.active:
            if eog or st.opens_prose(token):
                seq.structured = None  # prose, not a call: the rest is unconstrained
                self._on_token(seq, token, outbox)
                return
            if st.leading(token):
                # Undecided: whitespace before a call or an answer is held back, and counts.
                seq.generated += 1
                if seq.generated >= seq.max_new:
                    self._finish(seq, "length", outbox)
                else:
                    seq.pending = token
                return
            st.active = True
        room_after = seq.max_new - seq.generated - 1
        if eog:
            seq.generated += 1
            self._finish(seq, "stop", outbox, text=seq.text.flush())
            return
        if not st.take(token, room_after):
            # The budget would not hold the closing after this token: close now.
            self._close(seq, st, "", outbox)
            return
        seq.generated += 1
        if seq.entry is not None:
            seq.logprobs.append(seq.entry)
            seq.entry = None
        text = seq.text.feed(self.model.token_piece(token))
        if st.finished:
            self._finish(seq, "stop", outbox, text=text + seq.text.flush())
        elif room_after <= 0:
            self._close(seq, st, text, outbox)
        else:
            seq.pending = token
            outbox.append((seq, Delta(text=text, token_ids=[token], logprobs=seq.logprobs)))
            seq.logprobs = []

    def _close(self, seq: Sequence, st: StructuredState, text: str, outbox: Outbox) -> None:
        """End a structured sequence on its budget: ``text`` plus the closing of its JSON."""
        closing = st.closing_text()
        if self.grammar is not None:
            seq.generated += self.grammar.closing_tokens(closing)
        tail = text + seq.text.flush() + closing.decode("utf-8", errors="replace")
        self._finish(seq, "length", outbox, text=tail)

    def _on_token(self, seq: Sequence, token: int, outbox: Outbox) -> None:
        seq.generated += 1
        if self.model.is_eog(token) and not seq.request.params.ignore_eos:
            self._finish(seq, "stop", outbox, text=self._tail(seq))
            return
        if seq.entry is not None:
            seq.logprobs.append(seq.entry)
            seq.entry = None
        text, hit = seq.matcher.feed(seq.text.feed(self.model.token_piece(token)))
        if hit:
            # Tokens of the stop string itself are not output: neither are their logprobs.
            seq.logprobs = _within(seq.logprobs, len(text.encode()))
            self._finish(seq, "stop", outbox, text=text)
        elif seq.generated >= seq.max_new:
            self._finish(seq, "length", outbox, text=text + self._tail(seq))
        else:
            seq.pending = token
            if text:
                delta = Delta(text=text, token_ids=[token], logprobs=seq.logprobs)
                seq.logprobs = []
                outbox.append((seq, delta))

    @staticmethod
    def _tail(seq: Sequence) -> str:
        """Text still held back (partial UTF-8, a possible stop-string start) at the end."""
        text, hit = seq.matcher.feed(seq.text.flush())
        return text if hit else text + seq.matcher.flush()

    def _finish(
        self,
        seq: Sequence,
        reason: FinishReason | None,
        outbox: Outbox,
        *,
        text: str = "",
        error: BaseException | None = None,
    ) -> None:
        if seq in self.running:
            self.running.remove(seq)
        self._release(seq)
        if error is not None:
            outbox.append((seq, error))
        elif reason is not None and not seq.cancelled:
            usage = Usage(len(seq.prompt), seq.generated, cached_tokens=seq.cached)
            seq.timings.finished_ns = time.time_ns()
            delta = Delta(
                text=text,
                finish_reason=reason,
                usage=usage,
                timings=seq.timings,
                logprobs=seq.logprobs,
            )
            seq.logprobs = []
            outbox.append((seq, delta))

    def _release(self, seq: Sequence) -> None:
        if seq.finished:
            return
        seq.finished = True
        free_sampler(seq.sampler)
        if seq.slot is not None:
            self.slots.release(seq.slot)


def _within(entries: list[TokenLogprob], size: int) -> list[TokenLogprob]:
    """The leading ``entries`` whose pieces fit in ``size`` bytes of output."""
    kept: list[TokenLogprob] = []
    for entry in entries:
        size -= len(entry.piece)
        if size < 0:
            break
        kept.append(entry)
    return kept
