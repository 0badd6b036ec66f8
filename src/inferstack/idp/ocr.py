"""tesseract OCR (the Debian binary, through pytesseract): words with boxes and confidences,
grouped into lines in reading order."""

from __future__ import annotations

from typing import Any

from PIL import Image

from inferstack.errors import ServiceUnavailableError
from inferstack.idp.document import Line, Page, Word

__all__ = ["ocr_page"]


def ocr_page(image: Image.Image, number: int, language: str = "eng") -> Page:
    """Read ``image`` as page ``number``: every word tesseract finds, with its box and its
    confidence scaled to 0..1, grouped by tesseract's (block, paragraph, line)."""
    import pytesseract

    try:
        data: dict[str, list[Any]] = pytesseract.image_to_data(
            image.convert("RGB"), lang=language, output_type=pytesseract.Output.DICT
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise ServiceUnavailableError(
            "tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
        ) from exc
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        box = (int(data["left"][i]), int(data["top"][i]), int(data["width"][i]))
        word = Word(text, (*box, int(data["height"][i])), round(conf / 100.0, 4), number)
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append(word)
    ordered = sorted(lines.values(), key=lambda ws: (min(w.box[1] for w in ws), ws[0].box[0]))
    page = Page(number, image.width, image.height, "ocr")
    page.lines = [Line(sorted(ws, key=lambda w: w.box[0])) for ws in ordered]
    return page
