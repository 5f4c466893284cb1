"""Extraction: every format on real Arabic and French text, PDF page spans, type sniffing and the
stable failure reasons. Documents are generated in the test (fpdf2, python-docx, pypdf)."""
from __future__ import annotations

import html
import io
import json
import pickle
import random
import unicodedata
import zipfile
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfWriter

from core.ingest.extract import (
    DOCX,
    HTML,
    MARKDOWN,
    MEDIA_TYPES,
    PDF,
    PLAIN,
    REASONS,
    Extracted,
    ExtractionError,
    extract,
    sniff_media_type,
)
from tests.documents import core_font_pdf, docx_bytes

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ARABIC = "تُعَدُّ القراءة مفتاح المعرفة، والكتابة أداتها."
# Exact substrings that must survive: shadda + damma, teh marbuta, hamza forms, Arabic comma.
ARABIC_PIECES = ("تُعَدُّ", "القراءة", "المعرفة،", "والكتابة", "أداتها.")
FRENCH = "L'élève a révisé ses leçons « à fond » avant l'examen."
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def flat(text: str) -> str:
    """The comparison form: NFC with all whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def passages(name: str, count: int = 3) -> list[str]:
    path = EVAL / name / "passages.jsonl"
    if not path.exists():
        pytest.skip(f"external eval data {path} is absent")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in islice(lines, count)]


def failure(data: bytes, **kwargs: object) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        extract(data, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason in REASONS
    return caught.value


def assert_arabic_intact(text: str) -> None:
    for piece in ARABIC_PIECES:
        assert piece in text
        assert piece.encode() in text.encode()


def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- PDF ---------------------------------------------------------------------------------------

def test_pdf_english_and_french_with_core_font() -> None:
    result = extract(core_font_pdf([f"A short English line. {FRENCH}"], title="Cours de français"))
    assert result.media_type == PDF
    assert result.title == "Cours de français"
    assert result.text == f"A short English line. {FRENCH}"
    assert result.pages[0].number == 1


def test_pdf_page_spans_cover_each_page_including_a_blank_one() -> None:
    texts = ["First page in English.", "", FRENCH, "Quatrième page : fin."]
    result = extract(core_font_pdf(texts), filename="lecons.pdf")
    assert [page.number for page in result.pages] == [1, 2, 3, 4]
    assert [result.text[page.start:page.end] for page in result.pages] == texts
    assert result.text == "\n\n".join(text for text in texts if text)
    assert result.title == "lecons"  # no metadata title -> filename stem


def test_pdf_real_french_passages_with_unicode_font() -> None:
    if not DEJAVU.exists():
        pytest.skip(f"{DEJAVU} is absent")
    texts = passages("piaf")
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(DEJAVU))
    for text in texts:
        pdf.add_page()
        pdf.set_font("dejavu", size=11)
        pdf.multi_cell(0, 6, text)
    result = extract(bytes(pdf.output()))
    assert [flat(result.text[page.start:page.end]) for page in result.pages] == [flat(t) for t in texts]


@pytest.mark.parametrize("user_password", ["", "secret"])
def test_encrypted_pdf_is_refused_even_with_an_empty_password(user_password: str) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(core_font_pdf([FRENCH])))
    writer.encrypt(user_password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert failure(buffer.getvalue()).reason == "encrypted"


@pytest.mark.parametrize("mangle", [
    lambda pdf: pdf[: len(pdf) // 2],
    lambda pdf: b"%PDF-1.7\n" + random.Random(3).randbytes(2048),
    lambda pdf: b"%PDF-",
], ids=["truncated", "garbage", "header-only"])
def test_unreadable_pdf_is_corrupt(mangle: Callable[[bytes], bytes]) -> None:
    error = failure(mangle(core_font_pdf(["Some text.", FRENCH])), filename="broken.pdf")
    assert error.reason == "corrupt"
    assert "PDF" in error.message


# --- HTML and Markdown -------------------------------------------------------------------------

ARABIC_PAGE = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>  درسُ
  القراءة  </title>
<style>p {{ color: red; }}</style><script>var hidden = "نص مخفي";</script></head>
<body>
<header><h1>اسم الموقع</h1></header>
<nav><ul><li>الرئيسية</li><li>Accueil</li></ul></nav>
<noscript>فعّل جافاسكربت</noscript>
<main><h2>المقدمة</h2>
<p>{ARABIC}</p>
<p>{FRENCH}<br>Deuxième   ligne,
   même paragraphe.</p>
<div>قسم <b>مهم</b> جدًا</div>
<!-- تعليق -->
</main>
<aside>إعلان</aside><form><label>بحث</label></form>
<footer>حقوق النشر</footer>
</body></html>"""


def test_html_keeps_arabic_and_drops_chrome() -> None:
    result = extract(ARABIC_PAGE.encode(), media_type="text/html; charset=utf-8")
    assert result.media_type == HTML
    assert result.title == "درسُ القراءة"
    assert result.text == (f"المقدمة\n\n{ARABIC}\n\n{FRENCH}\nDeuxième ligne, même paragraphe.\n\n"
                           "قسم مهم جدًا")
    assert_arabic_intact(result.text)
    for dropped in ("نص مخفي", "color", "اسم الموقع", "الرئيسية", "Accueil", "جافاسكربت", "تعليق", "إعلان",
                    "بحث", "حقوق النشر", "درسُ"):
        assert dropped not in result.text


def test_html_without_title_uses_first_heading_and_is_sniffed_by_content() -> None:
    page = "<!doctype html><html><body><h1>Les  fractions</h1><p>Une fraction est un quotient.</p></body></html>"
    result = extract(page.encode())
    assert result.media_type == HTML
    assert result.title == "Les fractions"
    assert result.text == "Les fractions\n\nUne fraction est un quotient."


def test_html_of_real_passages_round_trips() -> None:
    texts = passages("xquad") + passages("piaf")
    body = "".join(f"<p>{html.escape(text)}</p>\n" for text in texts)
    result = extract(f"<html><body>{body}</body></html>".encode(), filename="corpus.htm")
    assert result.text.split("\n\n") == [flat(text) for text in texts]


def test_markdown_headings_lists_and_code() -> None:
    source = (f"# الدرس الأول\n\n{ARABIC}\n\n## Partie *deux*\n\n{FRENCH}\n\n"
              "- premier point\n- **second** point\n\n```\nx = 1\n```\n")
    result = extract(source.encode(), filename="lecon.md")
    assert result.media_type == MARKDOWN
    assert result.title == "الدرس الأول"
    assert result.text.split("\n\n") == ["الدرس الأول", ARABIC, "Partie deux", FRENCH, "premier point",
                                         "second point", "x = 1"]
    assert_arabic_intact(result.text)


# --- Plain text --------------------------------------------------------------------------------

def test_plain_text_real_passages_utf8() -> None:
    texts = passages("xquad") + passages("piaf")
    result = extract("\n\n".join(texts).encode(), filename="notes.txt")
    assert result.media_type == PLAIN
    assert result.title == "notes"
    assert [flat(part) for part in result.text.split("\n\n")] == [flat(text) for text in texts]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_plain_text_encodings_and_tidying(encoding: str) -> None:
    raw = f"  {ARABIC}  \r\n{FRENCH}\t\u00a0\r\n\r\n\r\n\r\nسطر   ثالث\n"
    result = extract(raw.encode(encoding), media_type="text/plain")
    assert result.text == f"{ARABIC}\n{FRENCH}\n\nسطر ثالث"
    assert "\ufeff" not in result.text
    assert result.title == ARABIC  # no name: the first line
    assert_arabic_intact(result.text)


def test_title_from_first_line_is_capped() -> None:
    result = extract(("كلمة " * 100).encode())
    assert len(result.title) <= 120
    assert result.title.startswith("كلمة كلمة")


def test_nfc_may_reorder_marks_but_never_folds_letters() -> None:
    typed = "\u0645\u064f\u062f\u064e\u0631\u0651\u0650\u0633\u064e\u0629\u064c"  # مُدَرِّسَةٌ, shadda typed first
    result = extract(f"{typed} أإآ ى ة ـ".encode())
    assert result.text == unicodedata.normalize("NFC", f"{typed} أإآ ى ة ـ")
    assert [ch for ch in result.text if not unicodedata.combining(ch)] == [
        ch for ch in f"{typed} أإآ ى ة ـ" if not unicodedata.combining(ch)]


# --- DOCX --------------------------------------------------------------------------------------

def test_docx_arabic_and_french_paragraphs_and_table() -> None:
    data = docx_bytes([ARABIC, "", FRENCH], title="Fiche  de révision",
                      table=[["الكلمة", "Le mot"], ["القراءة", "la lecture"]])
    result = extract(data, filename="fiche.docx")
    assert result.media_type == DOCX
    assert result.title == "Fiche de révision"
    assert result.text == f"{ARABIC}\n\n{FRENCH}\n\nالكلمة | Le mot\nالقراءة | la lecture"
    assert_arabic_intact(result.text)


def test_docx_real_passages_and_sniffed_without_a_name() -> None:
    texts = passages("xquad", 2) + passages("piaf", 2)
    result = extract(docx_bytes(texts))
    assert result.media_type == DOCX
    assert result.title == flat(texts[0])[:120].strip()
    assert result.text.split("\n\n") == [flat(text) for text in texts]


@pytest.mark.parametrize("data", [docx_bytes([FRENCH])[:400], b"just some text"], ids=["truncated", "not-zip"])
def test_unreadable_docx_is_corrupt(data: bytes) -> None:
    assert failure(data, filename="devoir.docx").reason == "corrupt"


# --- Failures ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", "\u00a0\u3000\n".encode(), b"... --- !!!",
                                  b"<html><script>alert(1)</script></html>"])
def test_no_letters_is_empty(data: bytes) -> None:
    assert failure(data).reason == "empty"


def test_blank_pdf_is_empty_with_an_ocr_hint() -> None:
    error = failure(core_font_pdf(["", ""]))
    assert error.reason == "empty"
    assert "OCR" in error.message


@pytest.mark.parametrize(("text", "codepage"), [(ARABIC, "cp1256"), (FRENCH, "cp1252"), (FRENCH, "latin-1")])
def test_legacy_arabic_and_french_code_pages_are_read_as_text(text: str, codepage: str) -> None:
    result = extract(text.encode(codepage), filename="ancien-cours.txt")
    assert " ".join(result.text.split()) == " ".join(text.split())


@pytest.mark.parametrize(("data", "kwargs"), [
    (PNG, {"filename": "notes.txt"}),
    (PNG, {"media_type": "text/plain; charset=utf-8"}),
    (b"text\x00with\x00nul", {"filename": "cours.md"}),
    (bytes(range(1, 32)) * 20, {"filename": "controls.txt"}),
    (zip_bytes({"a.txt": "x"}), {"filename": "archive.txt"}),
], ids=["png-named-txt", "png-declared-text", "nul-bytes", "control-chars", "zip-named-txt"])
def test_binary_content_claiming_to_be_text(data: bytes, kwargs: dict[str, str]) -> None:
    assert failure(data, **kwargs).reason == "binary"


@pytest.mark.parametrize(("data", "kwargs"), [
    (random.Random(7).randbytes(4096), {"filename": "data.bin"}),
    (random.Random(7).randbytes(4096), {}),
    (PNG, {}),
    (b"GIF89a\x01\x00\x01\x00", {"filename": "image.gif"}),
    (zip_bytes({"word/other.xml": "<x/>", "a.txt": "hi"}), {"filename": "archive.zip"}),
    (zip_bytes({"content.xml": "<x/>"}), {"media_type": "application/zip"}),
    (b"\x1f\x8b\x08\x00" + bytes(20), {}),
    (b"\x7fELF\x02\x01\x01" + bytes(40), {"filename": "program"}),
], ids=["random-bin", "random-unnamed", "png", "gif", "zip", "odt-like-zip", "gzip", "elf"])
def test_unsupported_types(data: bytes, kwargs: dict[str, str]) -> None:
    assert failure(data, **kwargs).reason == "unsupported_type"


def test_too_large_names_the_limit_in_mb() -> None:
    error = failure(b"a" * (1024 * 1024 + 1), max_bytes=1024 * 1024)
    assert error.reason == "too_large"
    assert "1 MB" in error.message
    assert extract(b"a" * 1024, max_bytes=1024).text == "a" * 1024


@pytest.mark.parametrize("reason", REASONS)
def test_extraction_error_pickles(reason: str) -> None:
    copy = pickle.loads(pickle.dumps(ExtractionError(reason, "A human message.")))
    assert (type(copy), copy.reason, copy.message, str(copy)) == (
        ExtractionError, reason, "A human message.", "A human message.")


def test_unknown_reason_is_a_bug() -> None:
    with pytest.raises(ValueError):
        ExtractionError("nope", "message")


# --- Sniffing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "filename", "declared", "expected"), [
    (b"%PDF-1.7\n...", "notes.txt", "text/plain", PDF),
    (docx_bytes(["x"]), None, None, DOCX),
    (docx_bytes(["x"]), "upload.bin", "application/octet-stream", DOCX),
    (b"# Titre", "LECON.MD", "text/plain", MARKDOWN),
    (b"<p>x</p>", "page.HTM", None, HTML),
    (b"plain words", "C:\\Users\\eleve\\devoir.text", None, PLAIN),
    (b"x", None, "text/markdown; charset=utf-8", MARKDOWN),
    (b"x", None, "application/xhtml+xml", HTML),
    (b"  <!DOCTYPE HTML><title>t</title>", None, None, HTML),
    (b"<html><body>x</body></html>", "page.php", "application/octet-stream", HTML),
    (b"a,b\n1,2\n", "table.csv", None, PLAIN),
    (b"", None, None, PLAIN),
])
def test_sniff_media_type(data: bytes, filename: str | None, declared: str | None, expected: str) -> None:
    assert sniff_media_type(data, filename, declared) == expected
    assert expected in MEDIA_TYPES


def test_extracted_is_frozen() -> None:
    result = extract(FRENCH.encode())
    assert isinstance(result, Extracted)
    with pytest.raises(AttributeError):
        result.text = "changed"  # type: ignore[misc]
