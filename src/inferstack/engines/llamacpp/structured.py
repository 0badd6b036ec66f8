"""Constrained decoding on llama.cpp with llguidance token masks.

Every step, each structured sequence's matcher fills a bitmask over the vocabulary (in
parallel, with the GIL released, on the scheduler thread, before sampling); disallowed logits
become ``-inf``, so the sampler chain draws from the model's own distribution restricted to
the grammar — never the shortest continuation.

Budget-safe closing: the sequence always keeps room to finish its JSON. When the tokens left
come close to the length of the shortest closing text (:class:`ClosingSearch`), a token is kept
only if the closing after it still fits; otherwise the sequence ends with the closing text of
the state before it and ``finish_reason`` ``"length"``. So the output parses and validates even
when ``max_tokens`` cuts it.

Lazy mode (``tool_choice: "auto"``): the grammar is the call after up to eight characters of
leading whitespace (so `` {"`` opens a call, as a model naturally writes it after ``A:``). Until
the first non-whitespace token the sequence may open a call (a token the grammar allows), start
prose (a token whose text does not open with ``{`` or ``[``, or the end of generation) or emit
leading whitespace, which is held back and counts against ``max_tokens``.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass, field

import llama_cpp as ll
import llguidance
import numpy as np

from inferstack.engines.llamacpp.copying import SpanCopy
from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.structured import (
    ByteTokens,
    ClosingSearch,
    CompiledGrammar,
    GrammarCompiler,
    GrammarLimits,
    JsonScan,
)

__all__ = [
    "GrammarVocab",
    "StructuredState",
    "apply_mask",
    "fill_masks",
    "greedy_token",
    "mask_allows",
    "mask_logits",
]

log = logging.getLogger(__name__)

CLOSING_MARGIN = 96
"""Bytes of slack past the last known closing length below which every token is checked."""
_TAIL_BYTES = 512
"""Output bytes kept for ``copy``: a longer string value gets no bonus."""


class GrammarVocab:
    """What constrained decoding needs of one model, built once at start (~2 s for 262k
    tokens): llguidance's view of the vocabulary, the schema compiler, byte tokens for closing
    searches, the token classes of lazy mode and the executor that fills masks in parallel."""

    def __init__(self, model: LlamaModel, *, cache_bytes: int, limits: GrammarLimits) -> None:
        self.model = model
        self.n_vocab = model.n_vocab
        pieces = _pieces(model)
        self.tokenizer = _lltokenizer(model, pieces)
        self.limits = limits
        self.compiler = GrammarCompiler(self.tokenizer, limits=limits, cache_bytes=cache_bytes)
        self.bytes = ByteTokens(lambda b: self.tokenizer.tokenize_bytes(b))
        threads = model.settings.mask_threads
        if threads is None:
            threads = model.settings.threads
        # None: masks are filled on the calling (scheduler) thread, one sequence at a time.
        self.executor = llguidance.LLExecutor(num_threads=threads) if threads > 0 else None
        self.words = (self.n_vocab + 31) // 32
        whitespace = np.zeros(self.n_vocab, dtype=bool)
        prose = np.zeros(self.n_vocab, dtype=bool)
        for token in range(self.n_vocab):
            if model.is_eog(token):
                prose[token] = True  # ending at once is an (empty) answer
                continue
            piece = pieces[token]
            if piece.startswith(b"\xff"):
                continue  # a control token: neither whitespace nor prose
            stripped = piece.lstrip()
            if piece and not stripped:
                whitespace[token] = True
            elif stripped and stripped[:1] not in (b"{", b"["):
                prose[token] = True
        self.whitespace = whitespace
        self.prose = prose

    def matcher(self, grammar: CompiledGrammar) -> llguidance.LLMatcher:
        return llguidance.LLMatcher(
            self.tokenizer, grammar.grammar, log_level=0, limits=self.limits.parser_limits()
        )

    def closing_tokens(self, text: bytes, room: int | None = None) -> int:
        """Tokens of ``text``; every token covers at least one byte, so when the bytes already
        fit ``room`` no tokenizing is needed."""
        if room is not None and len(text) <= room:
            return len(text)
        decoded = text.decode("utf-8", errors="replace")
        return len(self.model.tokenize(decoded, add_special=False, parse_special=False))


@dataclass(eq=False)
class StructuredState:
    """The constraint of one sequence."""

    vocab: GrammarVocab
    matcher: llguidance.LLMatcher
    lazy: bool
    active: bool = field(init=False)
    """Whether the grammar applies (false while a lazy output is undecided)."""
    closing: bytes | None = b""
    """Shortest closing text of the committed state, when known (``None``: none found)."""
    closing_stale: bool = True
    search: ClosingSearch = field(init=False)
    scan: JsonScan = field(default_factory=JsonScan)
    """Lexical position of the output so far (for closing searches)."""
    copy: SpanCopy | None = None
    """The bonus for string values that repeat the request, if the request gave a source."""
    tail: bytearray = field(default_factory=bytearray)
    """The end of the output so far (the string value being written, for ``copy``)."""

    def __post_init__(self) -> None:
        self.active = not self.lazy
        self.search = ClosingSearch(self.vocab.bytes)
        if self.matcher.is_error():
            raise RuntimeError(self.matcher.get_error())

    # -- masks -------------------------------------------------------------------------------

    def allowed(self, bits: np.ndarray) -> np.ndarray:
        """Boolean mask of allowed tokens from this sequence's bitmask row."""
        allowed = np.unpackbits(bits.view(np.uint8), bitorder="little")[: self.vocab.n_vocab]
        allowed = allowed.astype(bool)
        if not self.active:
            allowed |= self.vocab.prose
        return allowed

    def opens_prose(self, token: int) -> bool:
        """Undecided lazy output: ``token`` starts an answer in prose."""
        return bool(self.vocab.prose[token]) and self.matcher.validate_tokens([token]) != 1

    def leading(self, token: int) -> bool:
        """Undecided lazy output: consume ``token`` if it is leading whitespace (True); other
        tokens open the call and are taken by :meth:`take`."""
        if not self.vocab.whitespace[token]:
            return False
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"the grammar refused a masked token: {self.matcher.get_error()}")
        self.closing_stale = True
        return True

    # -- after sampling ----------------------------------------------------------------------

    def minimal_closing(self) -> bytes | None:
        """The shortest complete value (the closing of the empty output)."""
        self.closing = self.search.closing(self.matcher, self.scan)
        self.closing_stale = False
        return self.closing

    def take(self, token: int, room_after: int) -> bool:
        """Consume ``token`` if the output can still be closed within ``room_after`` tokens
        after it; otherwise leave the state as it was and return False."""
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"the grammar refused a masked token: {self.matcher.get_error()}")
        before = self.scan.copy()
        piece = self.vocab.model.token_piece(token)
        self.scan.feed(piece)
        if self.copy is not None:
            self.tail += piece
            del self.tail[:-_TAIL_BYTES]
        known = self.closing
        if known is not None and not self.closing_stale:
            far = room_after > len(known) + CLOSING_MARGIN
        else:
            far = room_after > CLOSING_MARGIN * 4
        if far:
            self.closing_stale = True
            return True
        after = self.search.closing(self.matcher, self.scan)
        if after is None:
            # No short closing exists (or the search ran out of fuel): no guarantee to keep.
            self.closing, self.closing_stale = None, False
            return True
        if self.vocab.closing_tokens(after, room_after) <= room_after:
            self.closing, self.closing_stale = after, False
            return True
        self.matcher.rollback(1)
        self.scan = before
        if self.copy is not None:
            del self.tail[len(self.tail) - len(piece) :]
        return False

    def string_value(self) -> str | None:
        """The JSON string being written, for ``copy``: its text so far (``""`` just after the
        opening quote), or None outside a string, after an escape, or mid-character."""
        scan = self.scan
        if not self.active or not scan.in_string or scan.escaped or scan.chars > len(self.tail):
            return None
        try:
            return bytes(self.tail[len(self.tail) - scan.chars :]).decode()
        except UnicodeDecodeError:
            return None

    def closing_text(self) -> bytes:
        """The closing of the committed state (searched again if stale)."""
        if self.closing_stale:
            self.closing = self.search.closing(self.matcher, self.scan)
            self.closing_stale = False
        return self.closing or b""

    @property
    def finished(self) -> bool:
        return self.matcher.is_stopped()

    @property
    def accepting(self) -> bool:
        return self.matcher.is_accepting()


def _pieces(model: LlamaModel) -> list[bytes]:
    """Every token's bytes, control tokens (and user-defined ``<…>`` ones) marked with a
    leading 0xFF, as llguidance expects: grammars never emit them."""
    vocab = model.vocab
    control = ll.LLAMA_TOKEN_ATTR_CONTROL
    user = ll.LLAMA_TOKEN_ATTR_USER_DEFINED
    buffer = ctypes.create_string_buffer(16 * 1024)
    pieces: list[bytes] = []
    for token in range(model.n_vocab):
        n = ll.llama_token_to_piece(vocab, token, buffer, len(buffer) - 1, 0, True)
        if n < 0:
            raise RuntimeError(f"token {token} does not fit a {len(buffer)}-byte buffer")
        piece = buffer.raw[:n]
        attr = ll.llama_vocab_get_attr(vocab, token)
        if attr & control or (attr & user and piece.startswith(b"<") and piece.endswith(b">")):
            piece = b"\xff" + piece
        pieces.append(piece)
    return pieces


def _lltokenizer(model: LlamaModel, pieces: list[bytes]) -> llguidance.LLTokenizer:
    """llguidance's view of the vocabulary, with llama.cpp's own tokenizer for forced text."""
    tokenize = ctypes.cast(ll.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
    return llguidance.LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
        tokens=pieces,
        vocab_ptr=model.vocab,
        tokenize_fptr=tokenize,
        eos_token=ll.llama_vocab_eos(model.vocab),
        slices=None,
    )


def fill_masks(vocab: GrammarVocab, states: list[StructuredState], out: np.ndarray) -> None:
    """Fill ``out[i]`` with the token bitmask of ``states[i]``: in parallel on the vocabulary's
    executor, or one by one on this thread when it has none (``mask_threads: 0``)."""
    row_bytes = vocab.words * 4
    if vocab.executor is None:
        for i, st in enumerate(states):
            st.matcher.unsafe_compute_mask_ptr(out[i].ctypes.data, row_bytes)
        return
    pairs = [(st.matcher, i) for i, st in enumerate(states)]
    vocab.executor.unsafe_compute_mask_ptr(pairs, out.ctypes.data, row_bytes, out.shape[0])


def apply_mask(
    ctx: ll.llama_context_p,
    index: int,
    n_vocab: int,
    state: StructuredState,
    words: np.ndarray,
    *,
    defer: bool = False,
) -> None:
    """Set the disallowed logits of output ``index`` to ``-inf``, in the context's buffer (the
    scheduler thread owns the context; the sampler reads these logits next). With ``defer``
    only the copy bonus is added: a greedy sampler masks later, and only if the argmax is
    disallowed (:func:`mask_allows`), which saves writing 262k logits on most steps."""
    logits = np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, index), shape=(n_vocab,))
    if not defer:
        if state.active:
            mask_logits(logits, words)
        else:
            logits[~state.allowed(words)] = -np.inf
    if state.copy is not None and (value := state.string_value()) is not None:
        state.copy.add_bonus(logits, value)


def mask_allows(words: np.ndarray, token: int) -> bool:
    """Whether bit ``token`` of the packed mask ``words`` is set."""
    return bool((int(words[token >> 5]) >> (token & 31)) & 1)


def greedy_token(logits: np.ndarray, words: np.ndarray | None) -> int:
    """The argmax of ``logits`` restricted to the packed mask ``words`` (None: no mask still to
    apply), masking ``logits`` in place only when the raw argmax is refused."""
    token = int(logits.argmax())
    if words is not None and not mask_allows(words, token):
        mask_logits(logits, words)
        token = int(logits.argmax())
    return token


def mask_logits(logits: np.ndarray, words: np.ndarray) -> None:
    """``logits[i] = -inf`` wherever bit ``i`` of the packed ``words`` is clear, 32 tokens at a
    time: whole words of zeros are cleared as rows, and only the mixed words are unpacked (a
    grammar's mask is mostly whole runs: nearly all of the vocabulary inside a string, a few
    tokens between values), so this costs a fraction of unpacking all 262k bits."""
    n = logits.shape[0]
    full = n // 32
    rows = logits[: full * 32].reshape(full, 32)
    head = words[:full]
    rows[head == 0] = -np.inf
    mixed = np.flatnonzero((head != 0) & (head != -1))
    if mixed.size:
        bits = np.unpackbits(head[mixed].view(np.uint8), bitorder="little").reshape(-1, 32)
        block = rows[mixed]
        block[bits == 0] = -np.inf
        rows[mixed] = block
    if n > full * 32:
        tail = np.unpackbits(words[full:].view(np.uint8), bitorder="little", count=n - full * 32)
        logits[full * 32 :][tail == 0] = -np.inf
