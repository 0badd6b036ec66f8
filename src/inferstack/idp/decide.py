"""The decision: a document whose every field reaches the threshold is approved automatically;
any weaker field, and any field a validator refuted (whatever the threshold), sends it to the
review queue, with the reasons."""

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
    """Auto-approve when every field's confidence is at least ``threshold`` and no validator
    refuted one, else review."""
    lowest = min((s.confidence for s in scores), default=0.0)
    reasons = []
    for s in scores:
        why = f" ({'; '.join(s.reasons)})" if s.reasons else ""
        if s.confidence < threshold:
            reasons.append(f"{s.name}: confidence {s.confidence:.2f} < {threshold:.2f}{why}")
        elif s.validation_failed:
            reasons.append(f"{s.name}: refuted{why}")
    if not scores:
        reasons.append("the schema has no fields")
    return Decision(PENDING if reasons else AUTO_APPROVED, lowest, reasons)
