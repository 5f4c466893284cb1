"""`ustadh eval --quizzes`: how many of the running Tutor's quiz items are valid, per language and
generator.

For each language (ar: XQuAD ar, en: XQuAD en, fr: PIAF fr) the Tutor makes quizzes of
`PER_QUIZ` items, one at a time, as the eval learner (`ops.eval_learner`), each on a topic taken
from another indexed passage (the first words of its first sentence: in the passage's language,
which is the language the quiz is written in) and searching that language's source only, until
the wanted number of items came back. The generator of a quiz is the mode its `questions` row
records: "llm" (the model's JSON) or "extractive" (cloze).

An item is valid when it fits Telegram's quiz-poll limits (`core.quiz.telegram_limits`: question
1-300, 2-10 options of 1-100, explanation at most 200 with at most 2 line feeds, correct index in
range), has exactly 4 distinct options (after matching normalisation), and its correct option is
supported by the chunk it cites: the rule of `core.quiz.grounding`, which the Tutor also applies
to the model's items before they reach a learner (so the report also says how many items the
model wrote, and how many of them that check kept).
"""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.quiz.grounding import four_distinct, supported
from core.quiz.telegram_limits import MAX_EXPLANATION, MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, tg_len
from core.request_id import bound
from core.retrieval.query import parse
from core.text.sentences import sentences
from ops.eval import load
from ops.eval_learner import Learner

DEFAULT_ITEMS = 10
PER_QUIZ = 2
LANGUAGES = (("ar", "xquad", "xquad ar"), ("en", "xquad", "xquad en"), ("fr", "piaf", "piaf fr"))
LLM_TARGET = 0.90
CHECKS = ("Telegram limits", "4 distinct options", "answer in cited chunk")
GENERATORS = {"llm": "LLM", "extractive": "cloze"}  # the quiz's mode in `questions` → the report's name
_TOPIC_WORDS = 10
_RETRY = ("rate_limited", "busy")


def topic(text: str, language: str) -> str:
    """The first words of the passage's first sentence, enough for the Tutor to detect their
    language (the quiz's language) as the passage's."""
    words = (sentences(text) or [text])[0].split()
    for n in range(min(_TOPIC_WORDS, len(words)), len(words) + 1):
        if parse(" ".join(words[:n]), 1, None).language == language:
            return " ".join(words[:n]).rstrip(",;:،؛")
    return " ".join(words)


def within_limits(item: dict[str, Any]) -> bool:
    options = item["options"]
    return (1 <= tg_len(item["question"]) <= MAX_QUESTION and MIN_OPTIONS <= len(options) <= MAX_OPTIONS
            and all(1 <= tg_len(o) <= MAX_OPTION for o in options) and 0 <= item["correct"] < len(options)
            and tg_len(item["explanation"]) <= MAX_EXPLANATION and item["explanation"].count("\n") <= 2)


def checks(item: dict[str, Any], chunk: str | None) -> tuple[bool, bool, bool]:
    """Each of CHECKS for one quiz item as the Tutor returns it."""
    limits = within_limits(item)
    answer = item["options"][item["correct"]] if 0 <= item["correct"] < len(item["options"]) else ""
    return limits, four_distinct(item["options"]), supported(answer, chunk)


@dataclass
class Tally:
    quizzes: int = 0
    drafted: int = 0  # items the model wrote, before the Tutor kept the grounded ones
    items: int = 0
    valid: int = 0
    passed: Counter[str] = field(default_factory=Counter)

    def add(self, results: tuple[bool, bool, bool]) -> None:
        self.items += 1
        self.valid += all(results)
        self.passed.update(name for name, ok in zip(CHECKS, results) if ok)


async def _quiz(tutor: Any, learner: Learner, topic_text: str, count: int, key: str,
                source_id: int) -> tuple[dict[str, Any], str]:
    """One quiz and its generator, rate limits waited out."""
    while True:
        with bound(None) as request_id:
            quiz = await tutor.quiz(learner.id, topic_text, count, key, source_ids=[source_id])
        if quiz.get("type") == "refused" and quiz["reason"] in _RETRY:
            await asyncio.sleep(quiz.get("retry_after_s") or 1)
            continue
        record = await learner.record(request_id)
        return quiz, ((record or {}).get("mode") or "unknown")


async def _language(tutor: Any, learner: Learner, language: str, passages: list[dict[str, Any]], wanted: int,
                    source_id: int, run: str, bar: tqdm, tallies: dict[tuple[str, str], Tally],
                    refusals: Counter[str]) -> None:
    """Quizzes in one language, a topic per passage (spread over them), until `wanted` items came."""
    from ray.exceptions import RayError

    from actors.clients.tutor import TutorUnavailable

    made = 0
    for number, passage in enumerate(passages[::max(1, len(passages) // wanted)][:wanted]):
        if made >= wanted:
            return
        try:
            quiz, mode = await _quiz(tutor, learner, topic(passage["text"], language), min(PER_QUIZ, wanted - made),
                                     f"eval:{run}:quiz:{language}:{number}", source_id)
        except (TutorUnavailable, RayError) as exc:  # RayError: e.g. the replica killed for memory
            refusals[f"{language} unavailable ({type(exc).__name__})"] += 1
            continue
        if quiz.get("type") != "quiz":
            refusals[f"{language} {quiz.get('reason')}"] += 1
            continue
        tally = tallies.setdefault((language, GENERATORS.get(mode, mode)), Tally())
        tally.quizzes += 1
        tally.drafted += quiz.get("drafted", 0)
        chunks = await learner.chunks(item["chunk_id"] for item in quiz["questions"])
        for item in quiz["questions"]:
            chunk = chunks.get(item["chunk_id"] or "")
            tally.add(checks(item, chunk.text if chunk else None))
        made += len(quiz["questions"])
        bar.update(len(quiz["questions"]))


async def evaluate(root: Path, limit: int | None, per_language: int, sources: dict[str, int],
                   learner: Learner, run: str) -> list[str]:
    """Make the quizzes and check their items; the report's lines."""
    from actors.clients.tutor import Tutor

    tutor = Tutor()
    tallies: dict[tuple[str, str], Tally] = {}
    refusals: Counter[str] = Counter()
    with tqdm(total=per_language * len(LANGUAGES), unit="item", desc="quizzes") as bar:
        for language, name, source in LANGUAGES:
            passages = [p for p in load(root / name / "passages.jsonl") if p["lang"] == language][:limit]
            await _language(tutor, learner, language, passages, per_language, sources[source], run, bar, tallies,
                            refusals)
    return _report(tallies, refusals)


def _report(tallies: dict[tuple[str, str], Tally], refusals: Counter[str]) -> list[str]:
    lines = [f"| language | generator | quizzes | model items | items | valid | {' | '.join(CHECKS)} |",
             "|---|---|---|---|---|---|" + "---|" * len(CHECKS)]
    misses = []
    for (language, generator), t in sorted(tallies.items()):
        share = t.valid / t.items if t.items else 0.0
        lines.append(f"| {language} | {generator} | {t.quizzes} | {t.drafted} | {t.items} | {share:.2f} | "
                     + " | ".join(f"{t.passed[c] / t.items:.2f}" if t.items else "—" for c in CHECKS) + " |")
        if generator == GENERATORS["llm"] and share < LLM_TARGET:
            misses.append(f"{language} LLM valid {share:.2f} < {LLM_TARGET:.2f}")
    llm_items = any(generator == GENERATORS["llm"] for _, generator in tallies)
    verdict = ("; ".join(misses) or "none") if llm_items else "no LLM items this run"
    lines += ["", "model items: what the model wrote for these quizzes (for cloze ones: items it wrote, none of them"
              " grounded, or none at all); items: what the Tutor kept and sent (an LLM quiz's are the grounded ones,"
              " `core.quiz.grounding`).", f"Target: ≥ {LLM_TARGET:.2f} of LLM items valid. Missed: {verdict}."]
    if refusals:
        lines.append("Quizzes without items: " + ", ".join(f"{k} ×{n}" for k, n in sorted(refusals.items())) + ".")
    return lines
