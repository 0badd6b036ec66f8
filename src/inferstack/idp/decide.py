"""The decision: a document whose every field reaches the threshold is approved automatically;
any weaker field sends it to the review queue, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.idp.score import FieldScore

__all__ = ["AUTO_APPROVED", "PENDING", "Decision", "decide"]

AUTO_APPROVED = "auto_approved"
PENDING = "pending"


@dataclass
class Decision:
    status: str
    min_confidence: float
    reasons: list[str]


def decide(scores: list[FieldScore], threshold: float) -> Decision:
    """Auto-approve when every field's confidence is at least ``threshold``, else review."""
    lowest = min((s.confidence for s in scores), default=0.0)
    reasons = [
        f"{s.name}: confidence {s.confidence:.2f} < {threshold:.2f}"
        + (f" ({'; '.join(s.reasons)})" if s.reasons else "")
        for s in scores
        if s.confidence < threshold
    ]
    if not scores:
        reasons.append("the schema has no fields")
    return Decision(PENDING if reasons else AUTO_APPROVED, lowest, reasons)
