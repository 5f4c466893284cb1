"""Documents generated for tests: PDFs (fpdf2, core fonts) and DOCX files (python-docx)."""
from __future__ import annotations

import io

import docx
from fpdf import FPDF


def core_font_pdf(pages: list[str], title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        if text:
            pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def docx_bytes(paragraphs: list[str], title: str = "", table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table):
            for cell, value in zip(row.cells, values):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
