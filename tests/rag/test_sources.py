"""Readers on real files of each format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.rag.sources import ReadOptions, discover, read_paths


def read(path: Path, **options: object) -> list:
    return list(read_paths([path], ReadOptions(**options)))  # type: ignore[arg-type]


def test_csv_rows_with_quoted_newlines_text_and_metadata_fields(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        'id,topic,question,answer\n7,billing,"How, exactly, do I pay?","By card.\nOr by wire."\n'
        "9,shipping,When does it ship?,In two days.\n"
    )
    docs = read(path, text_fields=("question", "answer"), metadata_fields=("topic",), id_field="id")
    assert [d.doc_id for d in docs] == [f"{path}#id=7", f"{path}#id=9"]
    assert docs[0].text == "question: How, exactly, do I pay?\nanswer: By card.\nOr by wire."
    assert docs[0].metadata == {"topic": "billing"}
    by_row = read(path, text_fields=("answer",))
    assert [d.doc_id for d in by_row] == [f"{path}#row=0", f"{path}#row=1"]
    assert by_row[1].text == "In two days."


def test_csv_missing_field_is_a_client_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidRequestError, match="no field") as info:
        read(path, text_fields=("c",))
    assert info.value.param == "text_fields"


def test_json_array_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"text": "one", "lang": "en"}, "two"]))
    (tmp_path / "b.jsonl").write_text('{"text": "three", "n": 3}\n\n{"text": "four", "n": 4}\n')
    docs = read(tmp_path, text_fields=("text",))
    assert [d.text for d in docs] == ["one", "two", "three", "four"]
    typed = read(tmp_path / "b.jsonl", text_fields=("text",), metadata_fields=("n",))
    assert [d.metadata["n"] for d in typed] == [3, 4]
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(InvalidRequestError, match="line 1"):
        read(tmp_path / "bad.jsonl")


def test_markdown_and_text(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nBody.")
    (tmp_path / "b.txt").write_text("Plain.")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.md").write_text("hidden")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs = read(tmp_path)
    assert [(Path(d.source).name, d.metadata["format"]) for d in docs] == [
        ("a.md", "md"),
        ("b.txt", "txt"),
    ]
    assert docs[0].doc_id == str((tmp_path / "a.md").resolve())


def test_unknown_suffix_or_missing_path_is_a_client_error(tmp_path: Path) -> None:
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(InvalidRequestError, match="no reader"):
        discover([tmp_path / "x.docx"])
    with pytest.raises(InvalidRequestError, match="no such"):
        discover([tmp_path / "missing"])


def test_html_keeps_headings_and_drops_scripts(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text(
        "<html><head><title>Guide</title><style>p{}</style></head><body><nav>menu</nav>"
        "<h1>Setup</h1><p>Install the <b>widget</b>.</p><script>alert(1)</script>"
        "<h2>Use</h2><ul><li>Turn it on.</li><li>Smile.</li></ul>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>port</td><td>8080</td></tr></table>"
        "</body></html>"
    )
    (doc,) = read(path)
    assert doc.metadata["title"] == "Guide"
    assert "# Setup" in doc.text and "## Use" in doc.text
    assert "Install the widget." in doc.text
    assert "alert" not in doc.text and "menu" not in doc.text and "p{}" not in doc.text
    assert "port | 8080" in doc.text


def test_pdf_text_layer_and_tables(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Quarterly report. Revenue grew in the northern region.")
    with pdf.table() as table:
        for row in (("Region", "Revenue"), ("North", "4200"), ("South", "3100")):
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Second page mentions the Zephyr project.")
    path = tmp_path / "report.pdf"
    pdf.output(str(path))
    (doc,) = read(path)
    assert doc.metadata["pages"] == 2
    assert "Revenue grew in the northern region." in doc.text
    assert "North | 4200" in doc.text
    assert "Zephyr project" in doc.text
    assert "pages_without_text" not in doc.metadata
