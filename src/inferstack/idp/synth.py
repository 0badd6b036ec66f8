"""A labelled set of generated invoices, rendered with Pillow and seeded (the same seed writes
the same set): the ground truth ``inferstack idp eval`` and ``idp calibrate`` measure against.

Documents cycle through variants: ``clean`` (a PNG as rendered), ``scan`` (turned a few degrees,
blurred, with grain, saved as a JPEG), ``scan-pdf`` (the same, as an image-only PDF at 200 dpi,
the way a scanner writes it) and ``scan-turned`` (a scan that went through the feeder sideways
or upside down, turned 90, 180 or 270 degrees). Layout (font size, margin, line gap) varies and
some invoices carry distractor lines (a customer, a due date, a subtotal)."""

from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["LABELS_FILE", "VARIANTS", "generate_invoices"]

LABELS_FILE = "labels.json"
# The order documents take their variant in: of every 10, 4 clean, 2 skewed JPEG scans, 2
# scanned PDFs and 2 scans turned 90/180/270 degrees; mixed early so small sets hold each.
VARIANTS = ("clean", "scan", "scan-pdf", "scan-turned")
_CYCLE = (
    "clean",
    "scan",
    "scan-pdf",
    "scan-turned",
    "clean",
    "scan",
    "scan-turned",
    "clean",
    "scan-pdf",
    "clean",
)
_SUFFIX = {"clean": ".png", "scan": ".jpg", "scan-pdf": ".pdf", "scan-turned": ".jpg"}
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
_CUSTOMERS = ["Harbor Dental", "Pine Street Cafe", "Lumen Studio", "Grey Owl Books"]
_CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
_EPOCH = time.strptime("2024-01-01", "%Y-%m-%d")  # what Pillow's PDF dates take


def _invoice(rng: random.Random) -> dict[str, str]:
    year, month, day = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return {
        "invoice_number": f"INV-{rng.randint(1000, 9999)}",
        "invoice_date": f"{year}-{month:02d}-{day:02d}",
        "vendor_name": rng.choice(_VENDORS),
        "total_amount": f"{rng.randint(5, 9999)}.{rng.randint(0, 99):02d}",
        "currency": rng.choice(_CURRENCIES),
    }


def _lines(fields: dict[str, str], rng: random.Random) -> list[str]:
    lines = [
        "INVOICE",
        f"Invoice number: {fields['invoice_number']}",
        f"Date: {fields['invoice_date']}",
        f"Vendor: {fields['vendor_name']}",
        f"Total: {fields['total_amount']} {fields['currency']}",
    ]
    if rng.random() < 0.5:
        due = date.fromisoformat(fields["invoice_date"]) + timedelta(days=30)
        lines.insert(3, f"Due date: {due.isoformat()}")
        lines.insert(-1, f"Customer: {rng.choice(_CUSTOMERS)}")
        subtotal = float(fields["total_amount"]) / 1.2
        lines.insert(-1, f"Subtotal: {subtotal:.2f} {fields['currency']}")
    return lines


def _render(lines: list[str], rng: random.Random) -> Image.Image:
    size, margin, gap = rng.randint(26, 34), rng.randint(30, 80), rng.randint(52, 66)
    font = ImageFont.load_default(size=size)
    image = Image.new("L", (1000, 2 * margin + gap * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + gap * i), line, fill=0, font=font)
    return image


def _scan(image: Image.Image, rng: random.Random) -> Image.Image:
    """Skew of up to 3 degrees, a slight blur and grain: what a flatbed scanner does."""
    angle = rng.uniform(-3.0, 3.0)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(
        0.0, rng.uniform(8.0, 24.0), (image.height, image.width)
    )
    grain = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(grain)


def _write(path: Path, fields: dict[str, str], variant: str, rng: random.Random) -> None:
    image = _render(_lines(fields, rng), rng)
    if variant == "clean":
        image.save(path)
        return
    image = _scan(image, rng)
    if variant == "scan-turned":
        image = image.rotate(rng.choice((90, 180, 270)), expand=True)
    if variant == "scan-pdf":
        # NOTE: fixed dates, or Pillow writes the current time and the same seed would not
        # write the same bytes
        image.convert("RGB").save(
            path, "PDF", resolution=200.0, creationDate=_EPOCH, modDate=_EPOCH
        )
    else:
        image.save(path, quality=75)


def generate_invoices(folder: Path, count: int, seed: int = 0) -> Path:
    """Write ``count`` invoices and ``labels.json`` (``{"schema": ..., "seed": ...,
    "documents": {filename: fields}, "variants": {filename: variant}}``) into ``folder``;
    returns the labels file."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    documents, variants = {}, {}
    for i in range(count):
        fields = _invoice(rng)
        variant = _CYCLE[i % len(_CYCLE)]
        name = f"invoice-{i:04d}{_SUFFIX[variant]}"
        _write(folder / name, fields, variant, rng)
        documents[name] = fields
        variants[name] = variant
    labels = folder / LABELS_FILE
    body = {"schema": "invoice", "seed": seed, "documents": documents, "variants": variants}
    labels.write_text(json.dumps(body, indent=1))
    return labels
