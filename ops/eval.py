"""`ustadh eval`: retrieval quality on ../shared/eval, beside the BM25 baseline of its README.

Through the running system, like `ustadh ingest`: every eval passage is ingested as a document of
an admin-only source per set and language (`eval:xquad:ar`, ...; re-runs find them unchanged), then
every question goes to the Retriever deployment, searching only its set's source, exactly as a
learner's question goes (dense + BM25, fused, reranked when the tier reranks and an LLM is set).
Cross-lingual: XQuAD's Arabic questions over the English passages (ids line up), and over the
English and French passages searched together (a user's corpus mixes languages; the gold is still
the English passage). Prints recall@1/5/10, MRR and nDCG@10 per set and language, with the
baseline's recall beside ours and the targets.

`--answers` and `--quizzes` measure the Tutor instead (`ops.eval_answers`, `ops.eval_quizzes`) on
the same indexed passages.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.config import Settings
from core.retrieval.metrics import Scores, score

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SETS = (("xquad", "ar"), ("xquad", "en"), ("piaf", "fr"))
MIXED = "xquad ar→en+fr (mixed)"
TARGETS = {"xquad ar": 0.95, "xquad en": 0.95, "piaf fr": 0.90, "xquad ar→en": 0.85, MIXED: 0.85}
_CONCURRENCY = 8


@dataclass(frozen=True)
class EvalSet:
    name: str
    sources: tuple[str, ...]  # whose passages are searched, together
    questions: list[dict[str, Any]]
    gold: list[str]


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def baseline(readme: Path) -> dict[str, dict[int, float]]:
    """The BM25 rows of the eval README's table: 'xquad ar' -> {1: R@1, 5: R@5, 10: R@10}."""
    rows = re.findall(r"^\|\s*(\w+)\s*\|\s*(\w+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|$",
                      readme.read_text("utf-8"), flags=re.M)
    return {f"{s} {lang}": {1: float(a), 5: float(b), 10: float(c)} for s, lang, a, b, c in rows}


async def ingest_passages(root: Path, limit: int | None) -> tuple[dict[str, int], int]:
    """Source id per 'set lang', and how many passages failed to ingest."""
    from actors.clients.ingestion import Ingestion
    from actors.clients.sources import Crawls
    from ops.ingest import ingest_jobs

    client, collections = Ingestion(), Crawls()
    sources, submitted = {}, []
    for name, lang in SETS:
        key = f"{name} {lang}"
        sources[key] = await collections.collection(f"eval:{name}:{lang}", "admin")
        passages = [p for p in load(root / name / "passages.jsonl") if p["lang"] == lang][:limit]
        for p in passages:
            submitted.append(await client.submit_file(p["text"].encode(), f"{p['id']}.txt", uri=f"eval:{p['id']}",
                                                      visibility="admin", source_id=sources[key]))
    finished = await ingest_jobs(client, submitted, desc="indexing eval passages")
    return sources, sum(job["state"] == "failed" for job in finished)


def eval_sets(root: Path, limit: int | None, max_questions: int | None) -> list[EvalSet]:
    sets = []
    for name, lang in SETS:
        kept = {p["id"] for p in [p for p in load(root / name / "passages.jsonl") if p["lang"] == lang][:limit]}
        questions = [q for q in load(root / name / "questions.jsonl") if q["lang"] == lang and q["passage_id"] in kept]
        questions = questions[:max_questions]
        sets.append(EvalSet(f"{name} {lang}", (f"{name} {lang}",), questions, [q["passage_id"] for q in questions]))
    arabic = sets[0]
    english_gold = [g.replace("xquad-ar-", "xquad-en-") for g in arabic.gold]
    sets.append(EvalSet("xquad ar→en", ("xquad en",), arabic.questions, english_gold))
    sets.append(EvalSet(MIXED, ("xquad en", "piaf fr"), arabic.questions, english_gold))
    return sets


def system_settings(settings: Settings) -> Settings:
    """The settings as the running system's processes see them: `ustadh up` gives them LOCAL_LLM_URL
    when it runs the local model (with no endpoint configured and LOCAL_LLM=auto)."""
    local = not settings.llm_endpoint_configured and settings.LOCAL_LLM == "auto"
    return settings.model_copy(update={"LOCAL_LLM_URL": "http://127.0.0.1"}) if local else settings


def concurrency(settings: Settings) -> int:
    """Questions in flight at once: one when the local model translates them, since it serves one
    request at a time and more would only time its queue."""
    system = system_settings(settings)
    return 1 if system.llm_translates_queries and system.llm_local else _CONCURRENCY


async def rankings(evalset: EvalSet, source_ids: list[int], bar: tqdm, gate: asyncio.Semaphore
                   ) -> list[tuple[list[str], float]]:
    """Each question's ranked passages and the seconds the Retriever took for it."""
    from actors.clients.retrieval import deployment_handle

    handle = deployment_handle()

    async def one(question: dict[str, Any]) -> tuple[list[str], float]:
        async with gate:
            started = time.perf_counter()
            hits = await handle.retrieve.remote(question["question"], 10, None, "standard", source_ids)
            took = time.perf_counter() - started
        bar.update(1)
        return list(dict.fromkeys(hit["source"].removeprefix("eval:") for hit in hits)), took  # chunks → passages

    return list(await asyncio.gather(*(one(q) for q in evalset.questions)))


async def retrieval(settings: Settings, root: Path, sources: dict[str, int], limit: int | None,
                    max_questions: int | None) -> list[tuple[str, Scores, float]]:
    """Per set: its scores and the p50 seconds of a question."""
    sets = eval_sets(root, limit, max_questions)
    gate = asyncio.Semaphore(concurrency(settings))
    results = []
    with tqdm(total=sum(len(s.questions) for s in sets), unit="question", desc="retrieving") as bar:
        for evalset in sets:
            answered = await rankings(evalset, [sources[name] for name in evalset.sources], bar, gate)
            seconds = sorted(took for _, took in answered)
            results.append((evalset.name, score([r for r, _ in answered], evalset.gold),
                            seconds[len(seconds) // 2] if seconds else 0.0))
    return results


def table(results: list[tuple[str, Scores, float]], base: dict[str, dict[int, float]]) -> list[str]:
    lines = ["| set | questions | R@1 | R@5 | R@10 | MRR | nDCG@10 | p50 ms | BM25 R@1 / R@5 / R@10 | R@5 target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s, p50 in results:
        b = base.get(name)
        bm25 = f"{b[1]:.3f} / {b[5]:.3f} / {b[10]:.3f}" if b else "—"
        target = TARGETS.get(name)
        verdict = f"{target:.2f} {'met' if s.recall[5] >= target else 'MISSED'}" if target else "—"
        lines.append(f"| {name} | {s.queries} | {s.recall[1]:.3f} | {s.recall[5]:.3f} | {s.recall[10]:.3f} | "
                     f"{s.mrr:.3f} | {s.ndcg10:.3f} | {1000 * p50:.0f} | {bm25} | {verdict} |")
    return lines


async def evaluate(settings: Settings, root: Path, args: argparse.Namespace) -> list[str]:
    """Index the passages, run the evaluations asked for; the report's lines."""
    from ops import eval_answers, eval_quizzes
    from ops.eval_learner import eval_learner

    sources, failed = await ingest_passages(root, args.passages)
    lines = []
    if not (args.answers or args.quizzes):
        lines += table(await retrieval(settings, root, sources, args.passages, args.questions),
                       baseline(root / "README.md"))
        lines.append(f"Query translation by the LLM: {'on' if system_settings(settings).llm_translates_queries else 'off'}; "
                     f"{concurrency(settings)} question(s) in flight (p50 is per question, queueing included).")
    if args.answers or args.quizzes:
        run = uuid.uuid4().hex[:12]
        async with eval_learner(settings, planned_requests(args)) as learner:
            if args.answers:
                lines += await eval_answers.evaluate(settings, root, args.passages, args.questions or
                                                     eval_answers.DEFAULT_QUESTIONS, sources, learner, run)
            if args.quizzes:
                lines += ["", *await eval_quizzes.evaluate(root, args.passages, args.questions or
                                                          eval_quizzes.DEFAULT_ITEMS, sources, learner, run)]
    if failed:
        lines.append(f"{failed} passage(s) failed to ingest; their questions count as misses")
    return lines


def planned_requests(args: argparse.Namespace) -> int:
    """Most Tutor requests `--answers` / `--quizzes` make (a quiz per wanted item at worst)."""
    from ops import eval_answers, eval_quizzes

    answers = len(eval_answers.SETS) * (args.questions or eval_answers.DEFAULT_QUESTIONS) if args.answers else 0
    quizzes = len(eval_quizzes.LANGUAGES) * (args.questions or eval_quizzes.DEFAULT_ITEMS) if args.quizzes else 0
    return answers + quizzes


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    from ops.eval_learner import MAX_REQUESTS
    from ops.ray_local import join_running_system

    root = Path(args.eval_dir)
    if not (root / "README.md").exists():
        print(f"no evaluation data at {root}")
        return 2
    if args.questions is not None and args.questions < 1:
        print("--questions must be at least 1")
        return 2
    if planned_requests(args) > MAX_REQUESTS:
        print(f"{planned_requests(args)} Tutor requests planned; the eval learner's tier allows {MAX_REQUESTS} a day: "
              "ask for fewer --questions")
        return 2
    join_running_system(settings)
    print("\n".join(asyncio.run(evaluate(settings, root, args))))
    return 0
