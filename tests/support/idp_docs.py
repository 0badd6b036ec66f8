"""Documents the idp tests generate: text rendered with Pillow (PNG/JPEG/TIFF, scanned PDF) and
PDFs with a real text layer (fpdf2). Each returns where every planted line was drawn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "INVOICE_FIELDS",
    "INVOICE_LINES",
    "render_image",
    "render_scan",
    "render_scanned_pdf",
    "render_scanned_pdf_pages",
    "run_idp",
    "write_text_pdf",
]

INVOICE_LINES = [
    "INVOICE",
    "Invoice number: INV-2041",
    "Date: 2024-03-15",
    "Vendor: Acme Tools Ltd",
    "Total: 123.45 EUR",
]
INVOICE_FIELDS = {
    "invoice_number": "INV-2041",
    "invoice_date": "2024-03-15",
    "vendor_name": "Acme Tools Ltd",
    "total_amount": "123.45",
    "currency": "EUR",
}
"""The invoice schema's values that INVOICE_LINES plant."""


def run_idp(*args: str) -> subprocess.CompletedProcess[str]:
    """``inferstack idp ARGS`` in a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "inferstack.cli.main", "idp", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


Box = tuple[int, int, int, int]


def _draw(lines: list[str], size: int = 30) -> tuple[Image.Image, list[Box]]:
    font = ImageFont.load_default(size=size)
    image = Image.new("L", (900, 80 + 60 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    boxes = []
    for i, line in enumerate(lines):
        left, top, right, bottom = draw.textbbox((40, 40 + 60 * i), line, font=font)
        draw.text((40, 40 + 60 * i), line, fill=0, font=font)
        boxes.append((left, top, right - left, bottom - top))
    return image, boxes


def render_image(path: Path, lines: list[str], *, pages: int = 1) -> list[Box]:
    """Write ``lines`` as an image (format from the suffix; TIFF may hold several pages)."""
    image, boxes = _draw(lines)
    if pages > 1:
        image.save(path, save_all=True, append_images=[image.copy() for _ in range(pages - 1)])
    else:
        image.save(path)
    return boxes


def render_scan(
    path: Path, lines: list[str], *, skew: float = 2.5, turn: int = 0, seed: int = 0
) -> None:
    """``lines`` as a scanner makes them: skewed ``skew`` degrees, blurred, with grain, then
    turned ``turn`` degrees counter-clockwise (fed sideways or upside down); JPEG, PNG or PDF
    from the suffix."""
    image, _ = _draw(lines)
    image = image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    grain = np.random.default_rng(seed).normal(0.0, 20.0, (image.height, image.width))
    image = Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))
    if turn:
        image = image.rotate(turn, expand=True)
    if path.suffix == ".pdf":
        image.convert("RGB").save(path, "PDF", resolution=200.0)
    else:
        image.save(path, quality=75)


def render_scanned_pdf(path: Path, lines: list[str]) -> list[Box]:
    """An image-only PDF (no text layer) at 200 dpi, as a scanner writes it."""
    image, boxes = _draw(lines)
    image.convert("RGB").save(path, "PDF", resolution=200.0)
    return boxes


def render_scanned_pdf_pages(path: Path, lines: list[str], pages: int) -> None:
    """An image-only PDF of ``pages`` identical scanned pages (one image, written per page)."""
    image, _ = _draw(lines)
    page = image.convert("RGB")
    page.save(path, "PDF", resolution=100.0, save_all=True, append_images=[page] * (pages - 1))


def write_text_pdf(path: Path, lines: list[str], pages: int = 1) -> None:
    """A PDF whose pages carry ``lines`` as real text (Helvetica 14 pt, from 20 mm down)."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_font("Helvetica", size=14)
    for _ in range(pages):
        pdf.add_page()
        for i, line in enumerate(lines):
            pdf.text(20, 30 + 10 * i, line)
    pdf.output(str(path))
