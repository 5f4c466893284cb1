"""`ustadh eval --answers`: answer quality of the running Tutor on ../shared/eval, beside the
extractive path computed in-process on the same retrieval.

Sets (questions spread over the indexed passages, one per passage in turn): `xquad en`, `xquad ar`
and `piaf fr` over their own source; `cross-lingual`, XQuAD's Arabic questions over the English
source, answered in Arabic (gold: the Arabic gold answer, or the English one kept verbatim, as
names and numbers are); `unanswerable`, XQuAD en questions over the PIAF fr source and PIAF fr
questions over the XQuAD en source, where the right answer is a refusal.

Each question goes, one at a time (the local model serves one request at a time: concurrency would
only measure queueing), to the Tutor deployment as the eval learner (`ops.eval_learner`), its
conversation memory forgotten first so every question stands alone. Then the extractive path:
the Retriever's hits for the question at the learner's tier and `core.answer.extractive.extractive_answer`,
the function the Tutor answers with offline (None: the refusal sentence).

Per set and path (`ops.eval_scoring`): contains-gold and token F1 over all questions; the share of
answered (not refused) answers citing the gold passage (cited chunks mapped to passages through
the database); the share of answered answers written in the question's language; the share
refused; TTFT p50/p95 (to the first `delta`, or to `done` for an answer that came whole, as
extractive ones do); tokens/s of the LLM's answers: output tokens of the Tutor's `questions` row
(the local model's own count) after the first one, over the time from the first `delta` to the
last. The system's path is named after what its `done` events say (`mode` "llm" or not); the
model's name is this process's LLM_MODEL / LOCAL_LLM_MODEL, which the Tutor does not report.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.answer.extractive import extractive_answer
from core.answer.prompt import NOT_IN_MATERIAL
from core.answer.sources import distinct_passages
from core.config import Settings
from core.ledger.tiers import tier
from core.request_id import bound
from core.retrieval.query import parse
from core.text.language import Language
from ops.eval import load
from ops.eval_learner import TIER, Learner
from ops.eval_scoring import contains_gold, in_language, percentile, refused, token_f1

DEFAULT_QUESTIONS = 25
SETS = ("xquad en", "xquad ar", "piaf fr", "cross-lingual", "unanswerable")
CONTAINS_TARGETS = {"xquad en": 0.80, "xquad ar": 0.80, "piaf fr": 0.70, "cross-lingual": 0.60}
CITED_TARGET, LANGUAGE_TARGET, REFUSAL_TARGET = 0.90, 0.97, 0.80
EXTRACTIVE_PATH = "extractive (in-process)"
_RETRY = ("rate_limited", "busy")


@dataclass(frozen=True)
class Case:
    set: str
    id: str
    question: str
    language: Language
    golds: tuple[str, ...]
    gold_passage: str | None  # None: the source does not hold the answer
    source: str               # the 'set lang' whose source is searched


@dataclass(frozen=True)
class Answer:
    text: str
    mode: str                 # "llm" | "extractive" | "unsupported" | "error"
    passages: frozenset[str]  # the eval passages it cites
    ttft_s: float | None
    decode: tuple[int, float] | None = None  # LLM tokens after the first, and the seconds they took


@dataclass(frozen=True)
class Row:
    set: str
    path: str
    n: int
    contains: float | None
    f1: float | None
    cited: float | None
    language: float | None
    refused: float
    errors: int
    ttft: tuple[float | None, float | None]
    tokens_per_s: float | None
    modes: Counter[str]


def _spread(questions: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`n` questions taking one per passage in turn, in file order."""
    by_passage: dict[str, list[dict[str, Any]]] = {}
    for q in questions:
        by_passage.setdefault(q["passage_id"], []).append(q)
    rounds = zip_longest(*by_passage.values())
    return [q for q in chain.from_iterable(rounds) if q is not None][:n]


def cases(root: Path, limit: int | None, per_set: int) -> list[Case]:
    """The questions of every set, `per_set` each, on the first `limit` passages of each source."""
    def questions(name: str, lang: str) -> list[dict[str, Any]]:
        kept = {p["id"] for p in [p for p in load(root / name / "passages.jsonl") if p["lang"] == lang][:limit]}
        return [q for q in load(root / name / "questions.jsonl") if q["lang"] == lang and q["passage_id"] in kept]

    english = {q["id"]: q for q in questions("xquad", "en")}
    own = {"xquad en": _spread(list(english.values()), per_set), "xquad ar": _spread(questions("xquad", "ar"), per_set),
           "piaf fr": _spread(questions("piaf", "fr"), per_set)}
    made = [Case(s, q["id"], q["question"], q["lang"], tuple(q["answers"]), q["passage_id"], s)
            for s, qs in own.items() for q in qs]
    for q in own["xquad ar"]:
        twin = english.get(q["id"].replace("xquad-ar-", "xquad-en-"))
        golds = tuple(q["answers"]) + (tuple(twin["answers"]) if twin else ())
        made.append(Case("cross-lingual", q["id"], q["question"], "ar", golds,
                         q["passage_id"].replace("xquad-ar-", "xquad-en-"), "xquad en"))
    half = (per_set + 1) // 2
    for q, source in [*((q, "piaf fr") for q in own["xquad en"][:half]),
                      *((q, "xquad en") for q in own["piaf fr"][:per_set - half])]:
        made.append(Case("unanswerable", q["id"], q["question"], q["lang"], (), None, source))
    return made


async def system_answer(tutor: Any, learner: Learner, case: Case, source_ids: list[int], key: str) -> Answer:
    """The Tutor's answer, timed; a refusal of the request itself (not of the answer) is an error,
    except rate limits, which are waited out."""
    from ray.exceptions import RayError

    from actors.clients.tutor import TutorUnavailable

    await tutor.forget(learner.id)
    while True:
        with bound(None) as request_id:
            started, first, last, done = time.perf_counter(), None, None, None
            try:
                async for event in tutor.ask(learner.id, case.question, key, source_ids=source_ids):
                    now = time.perf_counter()
                    if event["type"] == "delta":
                        first, last = first or now, now
                    elif event["type"] == "done":
                        done = {**event, "at": now}
                    elif event["type"] == "refused":
                        done = event
            except (TutorUnavailable, RayError) as exc:  # RayError: e.g. the replica killed for memory
                return Answer(f"{type(exc).__name__}: {exc}"[:300], "error", frozenset(), None)
        if done is not None and done["type"] == "refused" and done["reason"] in _RETRY:
            await asyncio.sleep(done.get("retry_after_s") or 1)
            continue
        break
    if done is None or done["type"] != "done":
        return Answer((done or {}).get("reason", "no done event"), "error", frozenset(), None)
    chunks = await learner.chunks(s["chunk_id"] for s in done["sources"])
    record = await learner.record(request_id)
    tokens = (record or {}).get("tokens_out") or 0
    decode = ((tokens - 1, last - first) if done["mode"] == "llm" and first is not None and last is not None
              and last > first and tokens > 1 else None)
    return Answer(done["text"], done["mode"], frozenset(c.passage for c in chunks.values()),
                  (first or done["at"]) - started, decode)


async def extractive_path(retriever: Any, case: Case, source_ids: list[int]) -> Answer:
    """The offline answer to the question from the Retriever's hits, as the Tutor makes it."""
    started = time.perf_counter()
    query = parse(case.question, 1, None)
    hits = await retriever.retrieve.remote(query.text, tier(TIER).retrieval_k, None, TIER, source_ids)
    answer = extractive_answer(query.text, hits, query.language)
    elapsed = time.perf_counter() - started
    if answer is None:
        return Answer(NOT_IN_MATERIAL[query.language], "unsupported", frozenset(), elapsed)
    given = distinct_passages(hits)
    cited = frozenset(str(given[n - 1]["source"]).removeprefix("eval:") for n in answer.cited)
    return Answer(answer.text, "extractive", cited, elapsed)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarise(name: str, path: str, pairs: Sequence[tuple[Case, Answer]]) -> Row:
    """The metrics of one set on one path (see the module docstring)."""
    answerable = name != "unanswerable"
    said = [(c, a) for c, a in pairs if a.mode != "error"]
    found = [a.mode != "error" and contains_gold(a.text, c.golds) for c, a in pairs]
    answered = [(c, a) for c, a in said if not refused(a.text, a.mode)]
    decoded = [a.decode for _, a in said if a.decode is not None]
    ttfts = [a.ttft_s for _, a in said if a.ttft_s is not None]
    return Row(
        set=name, path=path, n=len(pairs),
        contains=_share(found) if answerable else None,
        f1=(sum(token_f1(a.text, c.golds) if a.mode != "error" else 0.0 for c, a in pairs) / len(pairs)
            if answerable and pairs else None),
        cited=_share([c.gold_passage in a.passages for c, a in answered]) if answerable else None,
        language=_share([in_language(a.text, c.language) for c, a in answered]),
        refused=_share([refused(a.text, a.mode) for _, a in said]) or 0.0,
        errors=len(pairs) - len(said),
        ttft=(percentile(ttfts, 0.5), percentile(ttfts, 0.95)),
        tokens_per_s=sum(t for t, _ in decoded) / sum(s for _, s in decoded) if decoded else None,
        modes=Counter(a.mode for _, a in pairs))


def system_path(settings: Settings, modes: Counter[str]) -> str:
    """The system's column: its model when some answer says it came from one."""
    if not modes["llm"]:
        return "system, no LLM answer"
    if settings.llm_endpoint_configured:
        return f"model {settings.LLM_MODEL}"
    return f"local model {settings.LOCAL_LLM_MODEL}"


def _f(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: Sequence[Row]) -> list[str]:
    lines = ["| set | path | n | contains-gold | F1 | gold cited | language right | refused | errors | "
             "TTFT p50 / p95 s | tokens/s | modes |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        modes = ", ".join(f"{mode} {count}" for mode, count in r.modes.most_common())
        lines.append(f"| {r.set} | {r.path} | {r.n} | {_f(r.contains)} | {_f(r.f1)} | {_f(r.cited)} | "
                     f"{_f(r.language)} | {_f(r.refused)} | {r.errors} | {_f(r.ttft[0], 1)} / {_f(r.ttft[1], 1)} | "
                     f"{_f(r.tokens_per_s, 1)} | {modes} |")
    return lines


def missed(row: Row) -> list[str]:
    """The targets (set for the local model) that `row` misses."""
    checks = [("contains-gold", row.contains, CONTAINS_TARGETS.get(row.set)),
              ("gold cited", row.cited, CITED_TARGET), ("language right", row.language, LANGUAGE_TARGET),
              ("refused", row.refused if row.set == "unanswerable" else None, REFUSAL_TARGET)]
    return [f"{row.set} {what} {value:.2f} < {target:.2f}" for what, value, target in checks
            if value is not None and target is not None and value < target]


TARGETS_LINE = ("Targets (local model): contains-gold ≥ 0.80 xquad en and ar, ≥ 0.70 piaf fr, ≥ 0.60 cross-lingual; "
                f"gold passage cited in ≥ {CITED_TARGET:.2f} of answered; language right ≥ {LANGUAGE_TARGET:.2f}; "
                f"refused ≥ {REFUSAL_TARGET:.2f} on unanswerable.")


async def evaluate(settings: Settings, root: Path, limit: int | None, per_set: int, sources: dict[str, int],
                   learner: Learner, run: str) -> list[str]:
    """Ask every case through both paths; the report's lines (table, targets, what is missed)."""
    from actors.clients.retrieval import deployment_handle
    from actors.clients.tutor import Tutor

    tutor, retriever = Tutor(), deployment_handle()
    results: dict[str, list[tuple[Case, Answer, Answer]]] = {name: [] for name in SETS}
    todo = cases(root, limit, per_set)
    with tqdm(total=len(todo), unit="question", desc="answering") as bar:
        for case in todo:
            source_ids = [sources[case.source]]
            key = f"eval:{run}:{case.set.replace(' ', '-')}:{case.id}"  # request ids have no spaces
            ours = await system_answer(tutor, learner, case, source_ids, key)
            results[case.set].append((case, ours, await extractive_path(retriever, case, source_ids)))
            bar.update(1)
    path = system_path(settings, Counter(a.mode for triples in results.values() for _, a, _ in triples))
    rows: list[Row] = []
    for name, triples in results.items():
        rows += [summarise(name, path, [(c, a) for c, a, _ in triples]),
                 summarise(name, EXTRACTIVE_PATH, [(c, e) for c, _, e in triples])]
    misses = [m for row in rows if row.path != EXTRACTIVE_PATH for m in missed(row)]
    return [*table(rows), "", TARGETS_LINE,
            "Missed by the system: " + ("; ".join(misses) if misses else "none") + "."]
