"""Reading generated documents with real tesseract and real PDFs: words, boxes, confidences."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.idp.document import Box
from inferstack.idp.evidence import find_evidence
from inferstack.idp.read import document_files, read_document
from support.idp_docs import (
    INVOICE_LINES,
    render_image,
    render_scan,
    render_scanned_pdf,
    write_text_pdf,
)


def _inside(inner: Box, outer: Box, slack: int = 6) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[0] + inner[2] <= outer[0] + outer[2] + slack
        and inner[1] + inner[3] <= outer[1] + outer[3] + slack
    )


def test_png_is_ocrd_into_lines_of_words_with_boxes(tmp_path: Path) -> None:
    path = tmp_path / "invoice.png"
    drawn = render_image(path, INVOICE_LINES)
    [page] = list(read_document(path))
    assert page.source == "ocr" and page.number == 1
    assert "INV-2041" in page.text and "Acme" in page.text
    word = next(w for w in page.words if w.text == "INV-2041")
    assert _inside(word.box, drawn[1]), (word.box, drawn[1])
    assert 0.5 < word.confidence <= 1.0
    lines = [line.text for line in page.lines]
    assert any("Total" in t and "123.45" in t for t in lines), lines


def test_text_layer_pdf_keeps_its_words_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    write_text_pdf(path, INVOICE_LINES)
    [page] = list(read_document(path, dpi=72))
    assert page.source == "text-layer"
    assert [line.text for line in page.lines] == INVOICE_LINES
    word = next(w for w in page.words if w.text == "INV-2041")
    assert word.confidence == 1.0
    # fpdf2 puts line 2's baseline at 40 mm from the top: 113 pt; the word sits just above it.
    baseline = 40 / 25.4 * 72
    assert word.box[1] < baseline <= word.box[1] + word.box[3] + 2
    assert word.box[0] > 20 / 25.4 * 72


def test_scanned_pdf_is_rendered_and_ocrd(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    render_scanned_pdf(path, INVOICE_LINES)
    [page] = list(read_document(path, dpi=200))
    assert page.source == "ocr"
    assert "INV-2041" in page.text


def test_a_skewed_noisy_scan_is_read_word_for_word(tmp_path: Path) -> None:
    path = tmp_path / "scan.jpg"
    render_scan(path, INVOICE_LINES, skew=2.5, seed=1)
    [page] = list(read_document(path))
    assert page.rotation == 0
    for value in ("INV-2041", "2024-03-15", "Acme Tools Ltd", "123.45", "EUR"):
        evidence = find_evidence(value, [page])
        assert evidence is not None and evidence.agreement == 1.0, (value, page.text)


@pytest.mark.parametrize(("turn", "suffix"), [(90, ".jpg"), (180, ".pdf"), (270, ".png")])
def test_a_scan_fed_sideways_or_upside_down_is_turned_upright(
    tmp_path: Path, turn: int, suffix: str
) -> None:
    path = tmp_path / f"turned{suffix}"
    render_scan(path, INVOICE_LINES, skew=-1.5, turn=turn, seed=turn)
    [page] = list(read_document(path))
    # turned `turn` counter-clockwise: reading it takes `turn` degrees clockwise
    assert page.rotation == turn
    assert "INV-2041" in page.text and "Acme Tools Ltd" in page.text, page.text
    if turn != 180:
        assert page.width > page.height  # the upright invoice is wider than tall
    word = next(w for w in page.words if w.text == "INV-2041")
    assert word.box[0] + word.box[2] <= page.width and word.box[1] + word.box[3] <= page.height


def test_multi_page_tiff_yields_each_page(tmp_path: Path) -> None:
    path = tmp_path / "two.tiff"
    render_image(path, INVOICE_LINES[:2], pages=2)
    pages = list(read_document(path))
    assert [p.number for p in pages] == [1, 2]
    assert all("INV-2041" in p.text for p in pages)
    assert all(w.page == p.number for p in pages for w in p.words)


def test_unsupported_and_broken_files_name_the_param(tmp_path: Path) -> None:
    doc = tmp_path / "notes.docx"
    doc.write_bytes(b"PK")
    with pytest.raises(InvalidRequestError) as exc:
        list(read_document(doc))
    assert exc.value.param == "file"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing")
    with pytest.raises(InvalidRequestError) as exc:
        list(read_document(broken))
    assert exc.value.param == "file"


def test_folders_expand_to_their_documents_and_missing_paths_name_the_param(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "b").mkdir(parents=True)
    for name in ("b/2.PDF", "a.png", "notes.txt", "b/1.tiff"):
        (inbox / name).write_bytes(b"x")
    single = tmp_path / "one.jpg"
    single.write_bytes(b"x")
    assert document_files([single, inbox]) == [
        single,
        inbox / "a.png",
        inbox / "b" / "1.tiff",
        inbox / "b" / "2.PDF",
    ]
    with pytest.raises(InvalidRequestError) as exc:
        document_files([tmp_path / "nowhere.pdf"])
    assert exc.value.param == "files" and "nowhere.pdf" in exc.value.message
