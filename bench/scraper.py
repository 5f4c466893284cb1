"""Crawl-side text throughput and near-duplicate lookup time (run by hand; prints figures).

    .venv/bin/python bench/scraper.py [--pages 5000] [--fingerprints 100000] [--queries 2000]

1. pages: a generated site of `--pages` multilingual HTML pages (ar/fr/en prose from the eval
   passages of ../shared/eval when present, else rotations of tests/corpus_texts.py; each page two
   passages inside a header, navigation, sidebar and footer), 8% exact copies of earlier pages and
   8% near-duplicates (one word of the text changed, a different date in the footer) go through
   what a crawl does after fetching: `extract_page` (trafilatura), SimHash of the text, lookup in a
   `SimHashIndex`, add when new. Pages per second on one core, the time share of each step,
   and how many pages were kept / found duplicate.
2. lookup: `SimHashIndex.near` against `--fingerprints` stored fingerprints (the pages' own,
   topped up with random 64-bit values, which SimHash fingerprints resemble bit for bit), queries
   being stored fingerprints with 0-3 bits flipped and random values; mean, p50 and p99 µs per
   lookup, beside two baselines over the same fingerprints: a linear scan in Python and a
   vectorised numpy scan (XOR + popcount of the whole array). Results are checked equal.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.scrape.extract import extract_page
from core.text.simhash import (
    SimHashIndex,
    hamming,
    simhash,
)
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH, eval_passages

CHROME = {
    "ar": ("الرئيسية", "الدروس", "اتصل بنا", "جميع الحقوق محفوظة لوزارة التهذيب الوطني"),
    "fr": ("Accueil", "Leçons", "Contact", "Tous droits réservés — Ministère de l'Éducation nationale"),
    "en": ("Home", "Lessons", "Contact us", "All rights reserved — Ministry of National Education"),
}

STYLE = "".join(f".c{i} {{ margin: {i}px; padding: {i % 7}px; color: #{i:06x}; }} " for i in range(40))
SCRIPT = "".join(f"window.track{i} = function (e) {{ return e && e.id === {i}; }}; " for i in range(40))


def passages() -> list[tuple[str, str]]:
    """(language, text) pairs: the eval passages, or rotations of the built-in texts without them."""
    found = [(lang, p["text"].strip()) for lang in ("ar", "fr", "en") for p in eval_passages(lang, 10_000)]
    if found:
        return found
    bases = {"ar": ARABIC.split(), "fr": FRENCH.split(), "en": ENGLISH.split()}
    return [(lang, " ".join(words[shift:] + words[:shift]))
            for shift in range(0, 60) for lang, words in bases.items()]


def page_html(lang: str, title: str, paragraphs: list[str], date: str) -> str:
    home, lessons, contact, rights = CHROME[lang]
    direction = "rtl" if lang == "ar" else "ltr"
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    menu = "".join(f"<li><a href='/{i}'>{label}</a></li>" for i, label in enumerate((home, lessons, contact)))
    side = "".join(f"<li><a href='/lesson/{i}'>{lessons} {i}</a></li>" for i in range(30))
    links = "".join(f"<a href='/page/{i}'>{home} {i}</a> " for i in range(20))
    return (f"<!DOCTYPE html><html lang='{lang}' dir='{direction}'><head><meta charset='utf-8'>"
            f"<title>{title}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
            f"<header><a href='/'>Ustadh</a><nav><ul>{menu}</ul></nav></header>"
            f"<div class='layout'><aside><ul>{side}</ul></aside><main><article><h1>{title}</h1>{body}</article>"
            f"</main></div><footer><p>{rights} · {date}</p><p>{links}</p><p>{contact}</p></footer></body></html>")


def site(pages: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(url, html, kind) of the generated site's pages; kind is "original", "copy" or "near_copy"."""
    pool = passages()
    by_lang: dict[str, list[str]] = {}
    for lang, text in pool:
        by_lang.setdefault(lang, []).append(text)
    built: list[tuple[str, str, list[str], str]] = []
    for i in range(pages):
        lang = ("ar", "fr", "en")[i % 3]
        texts = by_lang[lang]
        n, j = len(texts), i // 3  # pairs (j, j + 1 + j // n) are distinct for j < n * (n - 1)
        pair = [texts[j % n], texts[(j + 1 + j // n) % n]]
        draw, kind = rng.random(), "original"
        originals = [b for b in built if b[3] == "original"]
        if originals and draw < 0.08:
            lang, title, pair, _ = rng.choice(originals)
            kind = "copy"
        elif originals and draw < 0.16:
            lang, title, pair, _ = rng.choice(originals)
            words = pair[0].split()
            words[rng.randrange(len(words))] = "تعديل" if lang == "ar" else "modifié"
            pair, kind = [" ".join(words), pair[1]], "near_copy"
        else:
            title = f"{CHROME[lang][1]} {i}"
        built.append((lang, title, pair, kind))
    return [(f"https://site.test/{lang}/{i}", page_html(lang, title, pair, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"),
             kind) for i, (lang, title, pair, kind) in enumerate(built)]


def run_pages(pages: list[tuple[str, str, str]]) -> tuple[list[int], dict[str, float], dict[str, int]]:
    index, kept = SimHashIndex(), []
    spent = {"extract": 0.0, "simhash": 0.0, "lookup": 0.0}
    counts = {"kept": 0, "no_text": 0, "original": 0, "copy": 0, "near_copy": 0}
    for url, html, kind in pages:
        t0 = time.perf_counter()
        extracted = extract_page(html.encode(), url)
        t1 = time.perf_counter()
        spent["extract"] += t1 - t0
        if extracted is None:
            counts["no_text"] += 1
            continue
        fingerprint = simhash(extracted.text)
        t2 = time.perf_counter()
        spent["simhash"] += t2 - t1
        if index.near(fingerprint):
            counts[kind] += 1  # found as a (near-)duplicate
        else:
            index.add(url, fingerprint)
            kept.append(fingerprint)
            counts["kept"] += 1
        spent["lookup"] += time.perf_counter() - t2
    return kept, spent, counts


def bench_pages(count: int, rng: random.Random) -> list[int]:
    pages = site(count, rng)
    run_pages(pages[:200])  # warm-up: trafilatura's and htmldate's first-use caches
    started, cpu = time.perf_counter(), time.process_time()
    fingerprints, spent, counts = run_pages(pages)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    total = sum(spent.values())
    truth = {kind: sum(1 for *_, k in pages if k == kind) for kind in ("original", "copy", "near_copy")}
    print(f"pages: {len(pages):,} generated HTML pages ({sum(len(h) for _, h, _ in pages) / len(pages) / 1024:.1f} "
          f"KiB mean; {truth['original']:,} originals, {truth['copy']:,} exact copies, "
          f"{truth['near_copy']:,} one-word near-copies), one process")
    print(f"  extraction + SimHash + near-dup lookup: {len(pages) / elapsed:,.0f} pages/s wall ({elapsed:.1f} s), "
          f"{len(pages) / cpu:,.0f} pages per CPU-second")
    print("  time share: " + ", ".join(f"{k} {v / total:.1%} ({v / len(pages) * 1e3:.2f} ms/page)"
                                       for k, v in spent.items()))
    print(f"  kept {counts['kept']:,}; found as duplicates: copies {counts['copy']:,}/{truth['copy']:,}, "
          f"near-copies {counts['near_copy']:,}/{truth['near_copy']:,}, originals (false positives) "
          f"{counts['original']:,}/{truth['original']:,}; no main text {counts['no_text']:,}")
    return fingerprints


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _flip(fingerprint: int, bits: int, rng: random.Random) -> int:
    for position in rng.sample(range(64), bits):
        fingerprint ^= 1 << position
    return fingerprint


def bench_lookup(real: list[int], total: int, query_count: int, rng: random.Random) -> None:
    stored = (real + [rng.getrandbits(64) for _ in range(total - len(real))])[:total]
    index = SimHashIndex()
    started = time.perf_counter()
    for key, fingerprint in enumerate(stored):
        index.add(key, fingerprint)
    built_s = time.perf_counter() - started
    queries = [_flip(rng.choice(stored), rng.randint(0, 3), rng) for _ in range(query_count * 3 // 4)]
    queries += [rng.getrandbits(64) for _ in range(query_count - len(queries))]
    times, answers = [], []
    for query in queries:
        t0 = time.perf_counter_ns()
        answers.append([key for key, _ in index.near(query)])
        times.append((time.perf_counter_ns() - t0) / 1e3)
    array = np.array(stored, dtype=np.uint64)
    numpy_times, python_times = [], []
    for query, answer in zip(queries, answers):
        t0 = time.perf_counter_ns()
        found = np.flatnonzero(np.bitwise_count(array ^ np.uint64(query)) <= 3).tolist()
        numpy_times.append((time.perf_counter_ns() - t0) / 1e3)
        assert found == answer, "index and scan disagree"
    for query, answer in list(zip(queries, answers))[:50]:
        t0 = time.perf_counter_ns()
        found = [k for k, fp in enumerate(stored) if hamming(query, fp) <= 3]
        python_times.append((time.perf_counter_ns() - t0) / 1e3)
        assert found == answer, "index and scan disagree"
    print(f"lookup: {len(stored):,} fingerprints ({len(real):,} from the pages), index built in {built_s:.2f} s, "
          f"{len(queries):,} queries (3/4 within 0-3 bits of a stored one), distance <= 3")
    for name, values in (("multi-index (4 x 16-bit blocks)", times), ("baseline: numpy scan", numpy_times),
                         ("baseline: Python linear scan", python_times)):
        print(f"  {name:34} mean {statistics.fmean(values):9.1f} µs   p50 {percentile(values, 0.5):9.1f} µs   "
              f"p99 {percentile(values, 0.99):9.1f} µs   ({len(values):,} queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5_000)
    parser.add_argument("--fingerprints", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    source = "eval passages of ../shared/eval" if eval_passages("ar", 1) else "tests/corpus_texts.py rotations"
    print(f"text source: {source}")
    real = bench_pages(args.pages, rng)
    bench_lookup(real, args.fingerprints, args.queries, rng)


if __name__ == "__main__":
    main()
