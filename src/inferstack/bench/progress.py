"""Live progress display: one status line redrawn in place on a terminal, a line per level
otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from inferstack.bench.records import RequestRecord
from inferstack.bench.stats import LevelStats

__all__ = ["LiveProgress"]


class LiveProgress:
    """Draws the run's progress on ``stream`` (standard error by default)."""

    def __init__(self, stream: TextIO | None = None, min_interval_s: float = 0.25) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.min_interval_s = min_interval_s
        self._target = ""
        self._level = 0.0
        self._planned: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._t0 = time.perf_counter()
        self._done = self._errors = self._tokens = self._warmup = 0
        self._last_draw = 0.0

    def level_started(self, target: str, level: float, planned: int | None) -> None:
        self._target, self._level, self._planned = target, level, planned
        self._reset()
        self._draw(force=True)

    def request_done(self, record: RequestRecord) -> None:
        if record.warmup:
            self._warmup += 1
        else:
            self._done += 1
            self._errors += 0 if record.ok else 1
            self._tokens += record.output_tokens if record.ok else 0
        self._draw()

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._t0
        planned = f"/{self._planned}" if self._planned else ""
        return (
            f"[{self._target}] level {self._level:g}: warm-up {self._warmup}, "
            f"done {self._done}{planned}, errors {self._errors}, "
            f"{self._tokens} tokens, {elapsed:.1f} s"
        )

    def _draw(self, force: bool = False) -> None:
        if not self.interactive:
            return
        now = time.perf_counter()
        if force or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            self.stream.write("\r\033[K" + self._line())
            self.stream.flush()

    def level_finished(self, target: str, level: float, stats: LevelStats) -> None:
        ttft = stats.ttft_ms.p50
        line = (
            f"[{target}] level {level:g}: {stats.output_tok_per_s:.1f} tok/s, "
            f"{stats.req_per_s:.2f} req/s, TTFT p50 "
            f"{'-' if ttft is None else f'{ttft:.0f} ms'}, "
            f"{stats.requests - stats.succeeded} errors, {stats.window_s:.1f} s"
        )
        self.stream.write(("\r\033[K" if self.interactive else "") + line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        self.stream.write(("\r\033[K" if self.interactive else "") + message + "\n")
        self.stream.flush()
