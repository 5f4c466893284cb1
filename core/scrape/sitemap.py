"""Read a sitemap (sitemaps.org protocol): the page URLs it lists and the nested sitemaps of an index.

This module owns turning sitemap bytes into URLs, safely: the input comes from any web site. It
accepts a `<urlset>` or a `<sitemapindex>` (with or without the namespace), gzip-compressed or not
(decompressed up to 50 MiB, the protocol's limit), and the protocol's plain-text form (one URL a
line). The XML parser is lxml's with entity resolution, DTD loading and network access off and
no huge-tree mode, so entity bombs and external entities do nothing; broken XML is read as far as
it goes (recover mode). At most 50,000 URLs of each kind are returned (the protocol's limit);
only absolute http(s) URLs are kept, in document order, without repeats.
"""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable

from lxml import etree

MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def parse_sitemap(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) listed by a sitemap; ([], []) for anything unreadable."""
    data = _gunzip(xml) if xml[:2] == _GZIP_MAGIC else xml[:MAX_BYTES]
    if data.lstrip()[:1] != b"<":
        return _plain_text(data), []
    root = _parse(data)
    if root is None:
        return [], []
    pages: list[str] = []
    nested: list[str] = []
    for loc in root.iter("{*}loc"):
        parent = loc.getparent()
        kind = etree.QName(parent).localname if parent is not None and isinstance(parent.tag, str) else ""
        target = nested if kind == "sitemap" else pages if kind == "url" else None
        if target is not None and len(target) < MAX_URLS:
            target.append((loc.text or "").strip())
    return _clean(pages), _clean(nested)


def _parse(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             recover=True, remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def _gunzip(data: bytes) -> bytes:
    """Decompress at most MAX_BYTES (a gzip bomb stops there); b"" for a broken stream."""
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data, MAX_BYTES)
    except (zlib.error, gzip.BadGzipFile):
        return b""


def _plain_text(data: bytes) -> list[str]:
    lines = data.decode("utf-8", errors="replace").splitlines()
    return _clean(line.strip() for line in lines[: MAX_URLS * 2])[:MAX_URLS]


def _clean(urls: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        if url.lower().startswith(("http://", "https://")) and " " not in url:
            seen.setdefault(url, None)
    return list(seen)
