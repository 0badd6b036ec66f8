"""Reading a file into pages: PDFs (text layer when a page has one, else the page rendered with
pypdfium2 and read as an image) and images (PNG, JPEG, TIFF with every frame). A page image is
read by a :class:`PageReader`: tesseract OCR (:class:`OcrReader`, the default) or a vision
model (:class:`inferstack.idp.vision.VisionReader`). Pages are yielded one at a time, so a long
document never sits in memory whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageSequence, UnidentifiedImageError

from inferstack.errors import InvalidRequestError
from inferstack.idp.document import Line, Page, Word, placed
from inferstack.idp.ocr import ocr_page

__all__ = [
    "DOCUMENT_SUFFIXES",
    "IMAGE_SUFFIXES",
    "OcrReader",
    "PageReader",
    "document_files",
    "read_document",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
DOCUMENT_SUFFIXES = frozenset({".pdf", *IMAGE_SUFFIXES})
# A text layer with fewer characters than this is a scan with stray marks: OCR it instead.
MIN_TEXT_LAYER_CHARS = 8


class PageReader(Protocol):
    """Reads one page image (page ``number`` of ``document``, a file name for messages)."""

    def __call__(self, image: Image.Image, number: int, document: str) -> Page: ...


@dataclass(frozen=True)
class OcrReader:
    """tesseract in ``language``; with ``orientation``, pages are turned upright first."""

    language: str = "eng"
    orientation: bool = True

    def __call__(self, image: Image.Image, number: int, document: str) -> Page:
        return ocr_page(image, number, self.language, orientation=self.orientation)


def document_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every document (by suffix) under folders, sorted per folder; a
    path that does not exist is a client mistake."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidRequestError(f"no such file: {', '.join(missing)}", param="files")
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
                )
            )
        else:
            found.append(path)
    return found


def read_document(
    path: Path,
    *,
    dpi: int = 200,
    language: str = "eng",
    orientation: bool = True,
    reader: PageReader | None = None,
    name: str | None = None,
) -> Iterator[Page]:
    """Yield the pages of ``path`` with their words, boxes and confidences. Page images go to
    ``reader`` (default: OCR in ``language``; with ``orientation``, scanned pages are turned
    upright before OCR). Errors name the document ``name`` (default: the file's name)."""
    read = reader if reader is not None else OcrReader(language, orientation)
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _read_pdf(path, name, dpi, read)
    elif suffix in IMAGE_SUFFIXES:
        yield from _read_image(path, name, read)
    else:
        raise InvalidRequestError(
            f"{name}: unsupported file type {suffix or '(none)'}; expected .pdf or an image "
            f"({', '.join(sorted(IMAGE_SUFFIXES))})",
            param="file",
        )


def _read_image(path: Path, name: str, read: PageReader) -> Iterator[Page]:
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequestError(f"{name}: not a readable image ({exc})", param="file") from exc
    with image:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            yield read(frame.copy(), number, name)


def _read_pdf(path: Path, name: str, dpi: int, read: PageReader) -> Iterator[Page]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise InvalidRequestError(f"{name}: not a readable PDF ({exc})", param="file") from exc
    try:
        scale = dpi / 72.0
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                layer = _text_layer_page(page, index + 1, scale)
                if layer is not None:
                    yield layer
                else:
                    image = page.render(scale=scale).to_pil()
                    yield read(image, index + 1, name)
            finally:
                page.close()
    finally:
        pdf.close()


def _text_layer_page(page: object, number: int, scale: float) -> Page | None:
    """The page's own text as words with boxes (confidence 1), or None for a scan."""
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    try:
        count = textpage.count_chars()
        if len(textpage.get_text_range().strip()) < MIN_TEXT_LAYER_CHARS:
            return None
        width_pt, height_pt = page.get_size()  # type: ignore[attr-defined]
        words: list[tuple[str, list[tuple[float, float, float, float]]]] = []
        current: list[str] = []
        boxes: list[tuple[float, float, float, float]] = []
        for i in range(count):
            ch = textpage.get_text_range(i, 1)
            if not ch or ch.isspace():
                if current:
                    words.append(("".join(current), boxes))
                current, boxes = [], []
                continue
            current.append(ch)
            boxes.append(textpage.get_charbox(i, loose=False))
        if current:
            words.append(("".join(current), boxes))
    finally:
        textpage.close()
    result = Page(number, round(width_pt * scale), round(height_pt * scale), "text-layer")
    result.lines = _group_lines([_word(text, bs, number, scale, height_pt) for text, bs in words])
    return result


def _word(
    text: str, boxes: list[tuple[float, float, float, float]], number: int, scale: float, h: float
) -> Word:
    left = min(b[0] for b in boxes)
    bottom = min(b[1] for b in boxes)
    right = max(b[2] for b in boxes)
    top = max(b[3] for b in boxes)
    box = (
        round(left * scale),
        round((h - top) * scale),
        max(1, round((right - left) * scale)),
        max(1, round((top - bottom) * scale)),
    )
    return Word(text, box, 1.0, number)


def _group_lines(words: list[Word]) -> list[Line]:
    """Words whose vertical centres are within half a word height of each other share a line."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (placed(w)[1] + placed(w)[3] / 2, placed(w)[0])):
        box = placed(word)
        centre = box[1] + box[3] / 2
        if lines:
            last = placed(lines[-1][-1])
            if abs(centre - (last[1] + last[3] / 2)) <= max(box[3], last[3]) / 2:
                lines[-1].append(word)
                continue
        lines.append([word])
    return [Line(sorted(ws, key=lambda w: placed(w)[0])) for ws in lines]
