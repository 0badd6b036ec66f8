"""A labelled set of generated invoices (PNG, rendered with Pillow; seeded, so the same seed
writes the same set): the ground truth ``inferstack idp eval`` measures against."""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["LABELS_FILE", "generate_invoices"]

LABELS_FILE = "labels.json"
_VENDORS = [
    "Acme Tools Ltd",
    "Nordic Paper AB",
    "Blue River Foods",
    "Kestrel Logistics",
    "Orion Office Supply",
    "Maple Print Works",
    "Delta Hardware",
    "Sunrise Bakery",
]
_CURRENCIES = ["EUR", "USD", "GBP", "CHF"]


def _invoice(rng: random.Random) -> dict[str, str]:
    year, month, day = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return {
        "invoice_number": f"INV-{rng.randint(1000, 9999)}",
        "invoice_date": f"{year}-{month:02d}-{day:02d}",
        "vendor_name": rng.choice(_VENDORS),
        "total_amount": f"{rng.randint(5, 9999)}.{rng.randint(0, 99):02d}",
        "currency": rng.choice(_CURRENCIES),
    }


def _render(path: Path, fields: dict[str, str]) -> None:
    lines = [
        "INVOICE",
        f"Invoice number: {fields['invoice_number']}",
        f"Date: {fields['invoice_date']}",
        f"Vendor: {fields['vendor_name']}",
        f"Total: {fields['total_amount']} {fields['currency']}",
    ]
    font = ImageFont.load_default(size=30)
    image = Image.new("L", (900, 80 + 60 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 60 * i), line, fill=0, font=font)
    image.save(path)


def generate_invoices(folder: Path, count: int, seed: int = 0) -> Path:
    """Write ``count`` invoices and ``labels.json`` (``{"schema": ..., "documents":
    {filename: fields}}``) into ``folder``; returns the labels file."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    documents = {}
    for i in range(count):
        fields = _invoice(rng)
        name = f"invoice-{i:04d}.png"
        _render(folder / name, fields)
        documents[name] = fields
    labels = folder / LABELS_FILE
    labels.write_text(json.dumps({"schema": "invoice", "documents": documents}, indent=1))
    return labels
