"""The service model of one replica, derived from a profile.

A continuous-batching engine (llama.cpp here, vLLM on a GPU) runs in steps: every step decodes
one token for each running sequence and prefills new prompts under a token budget. A step with
``b`` sequences takes ``step_s(b)`` (the profile's inter-token latency at concurrency ``b``,
interpolated linearly, flat throughput beyond the largest measured concurrency) plus the
prefill cost of the prompt tokens it carries. The measured step times are taken as they are,
even where a bigger batch serves fewer tokens per second: a one-thread llama.cpp replica on a
quiet 2-core machine does (18 ms per step alone, 44 ms with two sequences), and smoothing that
away made the simulator's inter-token latency up to 37 % too low (docs/planning.md, runs 4 and 5).

A replica that has been idle for ``idle_after_s`` or longer pays ``wake_s`` more on the step
that ends its idleness: the profile's ``wake_ms``, measured by sending the same prompt right
after another request and after a pause (``docs/plan/ttft_probe.py --idle-sweep``). A
closed-loop profile never lets the replica idle (the next request follows within a few
milliseconds), so its TTFT is that of a busy machine; open-loop arrivals mostly find it idle,
and on the 2-core machine here the first step after a pause took 5-45 ms longer, in the
server's own prefill time (docs/planning.md, "Checked against reality").

The prefill cost per token comes from the profile's prefill rate (prompt tokens per second of
TTFT beyond the first step, as ``inferstack bench --profile`` writes it), or from its
single-stream TTFT and mean prompt length: TTFT(1) = step_s(1) + prompt_tokens x cost. A
published profile that gives a TTFT but no prompt length gets a fixed prefill time per request
instead.
"""

from __future__ import annotations

import bisect

from inferstack.plan.profiles import Profile, ProfileError

__all__ = ["ServiceModel"]


class ServiceModel:
    """Step times of one replica described by ``profile``."""

    def __init__(
        self, profile: Profile, token_budget: int = 512, idle_after_s: float = 0.1
    ) -> None:
        self.profile = profile
        self.slots = profile.max_concurrency
        self.token_budget = token_budget
        self.wake_s = (profile.wake_ms or 0.0) / 1000.0
        self.idle_after_s = idle_after_s
        self._levels = [p.concurrency for p in profile.points]
        self._steps = [p.step_s for p in profile.points]
        self.prefill_s_per_token, self.prefill_fixed_s = self._prefill(profile)

    def _prefill(self, profile: Profile) -> tuple[float, float]:
        first = profile.points[0]
        if first.prefill_tok_per_s is not None:
            return 1.0 / first.prefill_tok_per_s, 0.0
        if first.ttft_ms is None:
            return 0.0, 0.0  # unknown: listed by Profile.missing(); TTFT is one step
        extra = max(first.ttft_ms / 1000.0 - self.step_s(first.concurrency), 0.0)
        if profile.mean_prompt_tokens:
            # NOTE: at concurrency > 1 the TTFT also holds the other streams' decode work; the
            # first point is the best estimate there is.
            return extra / profile.mean_prompt_tokens, 0.0
        return 0.0, extra

    def step_s(self, batch: int) -> float:
        """Seconds of one step that carries ``batch`` sequences (prefill cost excluded)."""
        if batch < 1:
            raise ProfileError("a step carries at least one sequence")
        levels, steps = self._levels, self._steps
        if batch <= levels[0]:
            return steps[0]
        if batch >= levels[-1]:
            return steps[-1] * batch / levels[-1]
        i = bisect.bisect_left(levels, batch)
        lo, hi = levels[i - 1], levels[i]
        frac = (batch - lo) / (hi - lo)
        return steps[i - 1] + (steps[i] - steps[i - 1]) * frac

    def prefill_s(self, tokens: int, sequences_finishing: int) -> float:
        """Extra seconds a step spends prefilling ``tokens`` prompt tokens, of which
        ``sequences_finishing`` prompts complete in this step."""
        return tokens * self.prefill_s_per_token + sequences_finishing * self.prefill_fixed_s

    def capacity_tok_per_s(self) -> float:
        """Output tokens per second with every slot busy decoding."""
        return self.slots / self.step_s(self.slots)
