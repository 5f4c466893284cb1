"""The main text of a crawled web page, without its navigation, footers and other boilerplate.

This module owns HTML page -> `ExtractedPage`. Extraction is trafilatura's (maintained; among
the best-scoring open-source main-text extractors in published comparisons), in precision mode:
a page that is only menus and footers gives no text, hence `None`. Letters come out as the page
has them (no folding of Arabic or French), NFC-normalised; the crawl then applies ingestion's
normalisation, quality filter and SimHash dedup.

The title is trafilatura's og:title, else its `extract_title` (a lone <h1>, meta titles, <title>
without the site name): its whole metadata pass also hunts for dates and authors and doubled the
cost of a page (bench/scraper.py).
`language_hint` is the language the page declares (`<html lang>`, else a Content-Language
`<meta>`), reduced to its primary subtag ("ar" from "ar-MR"); detection from the text is left to
ingestion. The call is synchronous and CPU-bound (a few ms a page): crawls run it in a worker thread.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import trafilatura
from lxml import html as lxml_html
from trafilatura.metadata import extract_opengraph, extract_title
from trafilatura.settings import use_config

_CONFIG = use_config()
_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # its timeout uses signals: main thread only
_CONFIG.set("DEFAULT", "MAX_FILE_SIZE", str(32 * 1024 * 1024))


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    text: str
    language_hint: str | None


def extract_page(html: bytes | str, url: str) -> ExtractedPage | None:
    """Main text and title of a page; None when it has no main text (boilerplate only, empty)."""
    tree = trafilatura.load_html(html)
    if tree is None:
        return None
    hint, title = _declared_language(tree), _title(tree)  # read before extraction prunes the tree
    document = trafilatura.bare_extraction(tree, url=url, with_metadata=False, include_comments=False,
                                           include_tables=True, favor_precision=True, config=_CONFIG)
    text = unicodedata.normalize("NFC", (document.text or "").strip()) if document is not None else ""
    if not text:
        return None
    return ExtractedPage(title=unicodedata.normalize("NFC", title.strip()), text=text, language_hint=hint)


def _title(tree: lxml_html.HtmlElement) -> str:
    return extract_opengraph(tree).get("title") or extract_title(tree) or ""


def _declared_language(tree: lxml_html.HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    declared = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        metas = root.xpath("//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')"
                           "='content-language']/@content")
        declared = str(metas[0]) if metas else None
    primary = (declared or "").strip().split(",")[0].split("-")[0].split("_")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None
