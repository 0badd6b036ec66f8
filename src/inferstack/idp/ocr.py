"""tesseract OCR (the Debian binary, through pytesseract): words with boxes and confidences,
grouped into lines in reading order, after turning a page scanned sideways or upside down the
right way up (tesseract's orientation and script detection, OSD)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from inferstack.errors import ServiceUnavailableError
from inferstack.idp.document import Line, Page, Word, placed

__all__ = ["detect_rotation", "ocr_page"]

# OSD's confidence in an orientation below which the page is left as it is.
MIN_ORIENTATION_CONFIDENCE = 1.0
# PIL turns counter-clockwise: undoing a page that needs turning N degrees clockwise.
_UNDO = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def detect_rotation(image: Image.Image) -> int:
    """Degrees (0, 90, 180, 270) to turn ``image`` clockwise to read it; 0 when tesseract's
    OSD is unsure or finds too little text to tell."""
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:  # "Too few characters": nothing to turn by
        return 0
    rotate = int(osd.get("rotate", 0)) % 360
    if rotate not in _UNDO or float(osd.get("orientation_conf", 0)) < MIN_ORIENTATION_CONFIDENCE:
        return 0
    return rotate


def ocr_page(
    image: Image.Image, number: int, language: str = "eng", *, orientation: bool = True
) -> Page:
    """Read ``image`` as page ``number``: every word tesseract finds, with its box and its
    confidence scaled to 0..1, grouped by tesseract's (block, paragraph, line). With
    ``orientation`` the page is first turned upright; boxes are on the upright page."""
    import pytesseract

    image = image.convert("RGB")
    try:
        rotation = detect_rotation(image) if orientation else 0
        if rotation:
            image = image.transpose(_UNDO[rotation])
        data: dict[str, list[Any]] = pytesseract.image_to_data(
            image, lang=language, output_type=pytesseract.Output.DICT
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
    ordered = sorted(
        lines.values(), key=lambda ws: (min(placed(w)[1] for w in ws), placed(ws[0])[0])
    )
    page = Page(number, image.width, image.height, "ocr", rotation=rotation)
    page.lines = [Line(sorted(ws, key=lambda w: placed(w)[0])) for ws in ordered]
    return page
