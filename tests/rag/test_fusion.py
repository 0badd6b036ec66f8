from __future__ import annotations

import pytest

from inferstack.rag.fusion import reciprocal_rank_fusion, weighted_fusion


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([[("a", 9), ("b", 8)], [("b", 1.0), ("c", 0.5)]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert next(iter(fused)) == "b"


def test_weighted_normalises_each_list() -> None:
    vector = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    keyword = [("c", 30.0), ("b", 20.0), ("a", 10.0)]
    assert next(i for i, _ in weighted_fusion(vector, keyword, 1.0)) == "a"
    assert next(i for i, _ in weighted_fusion(vector, keyword, 0.0)) == "c"
    mid = dict(weighted_fusion(vector, keyword, 0.5))
    assert mid["b"] == pytest.approx(0.5)
    assert mid["a"] == pytest.approx(0.5)
    assert weighted_fusion([], [], 0.5) == []
