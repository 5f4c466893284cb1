"""Turn an uploaded or fetched document into plain text: type sniffing and per-format extraction.

This module owns the bytes -> `Extracted` step of ingestion and the stable failure codes
(`ExtractionError.reason`) that jobs report back to users. It is Ray-free and synchronous; callers
run it in a worker. Text comes out NFC-normalised with whitespace tidied, letters otherwise as they
were (Arabic and French are never folded here; matching normalisation lives in `core.text`).

Libraries, each the maintained pure-Python reference for its format:
- pypdf: PDF text per page, metadata title, encryption detection, decompression limits;
- beautifulsoup4 with the stdlib "html.parser" backend: tolerant HTML parsing, no C dependency;
- markdown-it-py: CommonMark renderer, so Markdown reuses the HTML path;
- python-docx: DOCX paragraphs, tables and core properties.
"""
from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

import charset_normalizer
import docx
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString
from docx.table import Table
from markdown_it import MarkdownIt
from pypdf import PdfReader
from pypdf.errors import LimitReachedError

PDF = "application/pdf"
HTML = "text/html"
MARKDOWN = "text/markdown"
PLAIN = "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TYPES = frozenset({PDF, HTML, MARKDOWN, PLAIN, DOCX})
_LEGACY_CODEPAGES = ("cp1256", "iso8859_6", "cp1252", "latin_1", "iso8859_15")
REASONS = ("too_large", "empty", "unsupported_type", "encrypted", "corrupt", "binary")

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_MB = 1024 * 1024
_MAX_DOCX_UNZIPPED = 200 * _MB
_TITLE_CHARS = 120
_SAMPLE_CHARS = 65536
_MAX_CONTROL_SHARE = 0.05

_TEXT_TYPES = frozenset({HTML, MARKDOWN, PLAIN})
_EXTENSIONS = {
    ".pdf": PDF, ".html": HTML, ".htm": HTML, ".md": MARKDOWN, ".markdown": MARKDOWN,
    ".txt": PLAIN, ".text": PLAIN, ".docx": DOCX,
}
_DECLARED_ALIASES = {"application/xhtml+xml": HTML, "text/x-markdown": MARKDOWN}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Only signatures that no UTF-8 text can start with; other binaries are caught by `_decode`.
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"), (b"II*\x00", "TIFF image"), (b"MM\x00*", "TIFF image"),
    (b"PK\x03\x04", "ZIP archive"), (b"PK\x05\x06", "ZIP archive"), (b"\x1f\x8b", "gzip archive"),
    (b"\xfd7zXZ\x00", "xz archive"), (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"), (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "ELF executable"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office (.doc/.xls/.ppt) file"),
    (b"SQLite format 3\x00", "SQLite database"), (b"\x00asm", "WebAssembly module"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES = re.compile(r"\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")

_DROPPED_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "title")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCK_TAGS = (*_HEADINGS, "address", "article", "blockquote", "caption", "dd", "details", "dialog", "div",
               "dl", "dt", "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "section",
               "summary", "table", "tr", "ul")
_CELL_TAGS = ("td", "th")
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@dataclass(frozen=True)
class Page:
    """A PDF page's span in `Extracted.text`: `text[start:end]` is page `number` (1-based)."""
    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Extracted:
    """A document as plain text: paragraphs split by blank lines; `pages` only for PDF."""
    title: str
    text: str
    media_type: str
    pages: tuple[Page, ...] = ()


class ExtractionError(Exception):
    """Extraction failed; `reason` is one of REASONS, `message` is English for people."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown extraction failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[ExtractionError], tuple[str, str]]:
        return type(self), (self.reason, self.message)


@dataclass(frozen=True)
class _Parsed:
    text: str
    title: str = ""
    pages: tuple[Page, ...] = ()


def sniff_media_type(data: bytes, filename: str | None = None, declared: str | None = None) -> str:
    """One of MEDIA_TYPES, judged by magic bytes, then extension, declared type, then content."""
    if data.startswith(b"%PDF-"):
        return PDF
    claimed = _type_from_extension(filename) or _type_from_declared(declared)
    if data.startswith(b"PK") and ("word/document.xml" in _zip_names(data) or claimed == DOCX):
        return DOCX  # an unreadable zip that claims to be DOCX is reported as corrupt by extraction
    _reject_known_binary(data, claimed)
    if claimed is not None:
        if claimed in _TEXT_TYPES:
            _require_text(data)
        return claimed
    text = _decode(data)
    if text is None:
        raise ExtractionError("unsupported_type", "The file is binary data of an unrecognised type.")
    return HTML if text.lstrip()[:256].lower().startswith(("<!doctype html", "<html")) else PLAIN


def extract(data: bytes, *, filename: str | None = None, media_type: str | None = None,
            max_bytes: int = DEFAULT_MAX_BYTES) -> Extracted:
    """Plain text, title and (for PDF) page spans of a document; raises ExtractionError."""
    if len(data) > max_bytes:
        raise ExtractionError("too_large", f"The document is {len(data):,} bytes, over the "
                                           f"{max_bytes / _MB:g} MB limit.")
    if not data:
        raise ExtractionError("empty", "The document is empty.")
    kind = sniff_media_type(data, filename, media_type)
    parsed = _PARSERS[kind](data)
    if not any(ch.isalnum() for ch in parsed.text):
        hint = " A scanned PDF holds only images, and OCR is not supported." if kind == PDF else ""
        raise ExtractionError("empty", f"The document contains no text.{hint}")
    title = parsed.title or _filename_stem(filename) or parsed.text.split("\n", 1)[0]
    return Extracted(title=title[:_TITLE_CHARS].strip(), text=parsed.text, media_type=kind, pages=parsed.pages)


def _type_from_extension(filename: str | None) -> str | None:
    name = _basename(filename).lower()
    return _EXTENSIONS.get(name[name.rfind("."):]) if "." in name else None


def _type_from_declared(declared: str | None) -> str | None:
    bare = (declared or "").split(";", 1)[0].strip().lower()
    bare = _DECLARED_ALIASES.get(bare, bare)
    return bare if bare in MEDIA_TYPES else None


def _zip_names(data: bytes) -> frozenset[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return frozenset(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return frozenset()


def _reject_known_binary(data: bytes, claimed: str | None) -> None:
    label = next((name for magic, name in _BINARY_MAGIC if data.startswith(magic)), None)
    if label is None:
        return
    if claimed in _TEXT_TYPES:
        raise ExtractionError("binary", f"The file is named or declared as text but is a {label}.")
    raise ExtractionError("unsupported_type", f"A {label} cannot be ingested; send PDF, DOCX, HTML, "
                                              "Markdown or plain text.")


def _decode(data: bytes) -> str | None:
    """Text from UTF-8 (optionally with BOM), BOM-marked UTF-16, or a legacy Arabic or Latin code page
    (windows-1256, ISO-8859-6, windows-1252, ISO-8859-1/15: old Arabic and French files) that
    charset-normalizer recognises; None when it looks binary."""
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if codec is None and b"\x00" in data:
        return None
    try:
        text = data.decode(codec or "utf-8")
    except UnicodeDecodeError:
        text = _legacy(data)
        if text is None:
            return None
    sample = text[:_SAMPLE_CHARS]
    return None if len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample) else text


def _legacy(data: bytes) -> str | None:
    best = charset_normalizer.from_bytes(data, cp_isolation=list(_LEGACY_CODEPAGES)).best()
    return str(best) if best is not None and best.encoding in _LEGACY_CODEPAGES else None


def _require_text(data: bytes) -> str:
    text = _decode(data)
    if text is None:
        raise ExtractionError("binary", "The file is named or declared as text but holds binary data "
                                        "(or text in an encoding that could not be recognised).")
    return text


def _tidy(text: str) -> str:
    """NFC, control characters dropped, spaces collapsed per line, paragraphs split by one blank line."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _one_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _basename(filename: str | None) -> str:
    return (filename or "").replace("\\", "/").rsplit("/", 1)[-1]


def _filename_stem(filename: str | None) -> str:
    name = _basename(filename)
    return _one_line(name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name)


def _parse_pdf(data: bytes) -> _Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionError("encrypted", "The PDF is encrypted; send an unprotected copy.")
        texts = [_tidy(page.extract_text() or "") for page in reader.pages]
        title = _one_line(str(reader.metadata.title or "")) if reader.metadata else ""
    except ExtractionError:
        raise
    except LimitReachedError as exc:
        raise ExtractionError("too_large", f"The PDF expands beyond pypdf's safety limits: {exc}") from exc
    except Exception as exc:  # pypdf raises many exception types on hostile input; all mean "unreadable"
        raise ExtractionError("corrupt", f"The PDF could not be read: {exc}") from exc
    text, pages = _join_pages(texts)
    return _Parsed(text=text, title=title, pages=pages)


def _join_pages(texts: list[str]) -> tuple[str, tuple[Page, ...]]:
    pieces: list[str] = []
    pages: list[Page] = []
    offset = 0
    for number, page_text in enumerate(texts, start=1):
        if page_text and offset:
            pieces.append("\n\n")
            offset += 2
        pages.append(Page(number=number, start=offset, end=offset + len(page_text)))
        pieces.append(page_text)
        offset += len(page_text)
    return "".join(pieces), tuple(pages)


class _Verbatim(NavigableString):
    """Text inserted into the tree that keeps its whitespace: breaks and <pre> contents."""


def _parse_html(data: bytes) -> _Parsed:
    return _parse_html_text(_require_text(data))


def _parse_markdown(data: bytes) -> _Parsed:
    return _parse_html_text(_MARKDOWN.render(_require_text(data)))


def _parse_html_text(markup: str) -> _Parsed:
    soup = BeautifulSoup(markup, "html.parser")
    title = _one_line(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    heading = soup.find(_HEADINGS)
    title = title or (_one_line(heading.get_text()) if heading else "")
    for pre in soup.find_all("pre"):
        pre.replace_with(_Verbatim(f"\n\n{pre.get_text()}\n\n"))
    for br in soup.find_all("br"):
        br.replace_with(_Verbatim("\n"))
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(_Verbatim("\n\n"))
        tag.insert_after(_Verbatim("\n\n"))
    for cell in soup.find_all(_CELL_TAGS):
        cell.insert_after(" ")
    pieces = (piece if isinstance(piece, _Verbatim) else _SPACES.sub(" ", piece)
              for piece in soup.descendants
              if isinstance(piece, NavigableString) and not isinstance(piece, PreformattedString))
    return _Parsed(text=_tidy("".join(pieces)), title=title)


def _parse_plain(data: bytes) -> _Parsed:
    return _Parsed(text=_tidy(_require_text(data)))


def _parse_docx(data: bytes) -> _Parsed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > _MAX_DOCX_UNZIPPED:
                raise ExtractionError("too_large", f"The DOCX unpacks to more than "
                                                   f"{_MAX_DOCX_UNZIPPED // _MB} MB.")
        document = docx.Document(io.BytesIO(data))
        blocks = [_docx_table_text(item) if isinstance(item, Table) else item.text
                  for item in document.iter_inner_content()]
        title = _one_line(document.core_properties.title or "")
    except ExtractionError:
        raise
    except Exception as exc:  # zipfile, lxml and python-docx all raise their own types on bad input
        raise ExtractionError("corrupt", f"The DOCX could not be read: {exc}") from exc
    return _Parsed(text=_tidy("\n\n".join(blocks)), title=title)


def _docx_table_text(table: Table) -> str:
    # A merged cell appears once per grid column it spans in `row.cells`, hence the groupby.
    rows = (" | ".join(text for text, _ in groupby(cell.text for cell in row.cells)) for row in table.rows)
    return "\n".join(rows)


_PARSERS: dict[str, Callable[[bytes], _Parsed]] = {
    PDF: _parse_pdf, HTML: _parse_html, MARKDOWN: _parse_markdown, PLAIN: _parse_plain, DOCX: _parse_docx,
}
