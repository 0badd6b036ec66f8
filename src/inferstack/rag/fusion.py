"""Combining ranked lists: reciprocal rank fusion and min-max weighted score fusion."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["reciprocal_rank_fusion", "weighted_fusion"]

Ranked = Sequence[tuple[str, float]]


def reciprocal_rank_fusion(lists: Sequence[Ranked], k: int = 60) -> list[tuple[str, float]]:
    """Cormack et al.'s RRF: ``score(d) = Σ 1 / (k + rank(d))`` over the lists (rank from 1)."""
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, (item, _) in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def weighted_fusion(vector: Ranked, keyword: Ranked, alpha: float) -> list[tuple[str, float]]:
    """``alpha · norm(vector) + (1 - alpha) · norm(bm25)``, each min-max normalised over its own
    candidates (an item missing from a list scores 0 there)."""
    combined: dict[str, float] = {}
    for ranked, weight in ((vector, alpha), (keyword, 1.0 - alpha)):
        for item, value in _normalised(ranked):
            combined[item] = combined.get(item, 0.0) + weight * value
    return sorted(combined.items(), key=lambda kv: (-kv[1], kv[0]))


def _normalised(ranked: Ranked) -> list[tuple[str, float]]:
    if not ranked:
        return []
    values = [s for _, s in ranked]
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(item, 1.0) for item, _ in ranked]
    return [(item, (s - lo) / (hi - lo)) for item, s in ranked]
