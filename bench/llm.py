"""The local model through the system: time to first token and decode tokens/s of answers, beside
the same model and the same prompts in-process (run by hand; never a timed test).

    .venv/bin/python bench/llm.py [--requests 8] [--concurrency 1,4] [--rounds 2] [--passages 4]
                                  [--tier premium] [--temperature 0.2] [--server-settings]

Joins the system `ustadh up` runs in the same environment (DATA_DIR, ports, LOCAL_LLM_MODEL, as
`ustadh eval` does), which must answer from its local model server (no OPENAI_BASE_URL /
LLM_BASE_URL; LOCAL_LLM=auto). The model is LOCAL_LLM_MODEL: the 1.5B one by default, the 135M
one with LOCAL_LLM_MODEL=smollm2-135m. For example, on a second copy of the system:

    export DATA_DIR=/tmp/llmbench HTTP_PORT=8720 LOCAL_LLM_PORT=8725 LOCAL_LLM_MODEL=smollm2-135m ...
    .venv/bin/ustadh up &            # wait for "Ustadh ready"
    .venv/bin/python bench/llm.py --requests 4

Material: the first `--passages` passages of each of XQuAD en, XQuAD ar and PIAF fr
(../shared/eval) are ingested as public documents `bench-llm:<id>` (a re-run finds them
unchanged), and their questions are asked, each request a different question, languages in turn.
Public, because `POST /chat/ask` takes no `source_ids`: both system paths search what a learner
searches. The learners are new users of `--tier` (premium by default: its answer cap is the
`max_tokens` of every path), topped up through the wallet, with an API token each; each one's
conversation memory is forgotten before each question, so the Tutor's prompt carries no history.

Three paths per question, at each `--concurrency` (learners asking at once):
  in-process      llama_cpp.Llama on the very GGUF file the system's model server has mapped
                  (checked in that process's memory maps), n_ctx LOCAL_LLM_CONTEXT, LOCAL_LLM_THREADS
                  threads as the server is configured, `create_chat_completion(stream=True)` on the
                  messages the Tutor builds: `grounded_messages(question, hits, language,
                  max_context_tokens=answer_context_tokens)` from the Retriever's hits for that
                  question (same deployment, same k and tier as the Tutor). Sampling as the Tutor's
                  request reaches llama_cpp.server: temperature 0.2 (`--temperature`), top_k 40,
                  top_p 0.95, min_p 0.05, repeat_penalty 1.1 (the server's default).
  HTTP /chat/ask  the learner's bearer token, the answer read as Server-Sent Events.
  Tutor handle    `serve_app.tutor_client.Tutor().ask(...)`, as the bot calls it.
With N learners the requests go in waves of N sent at once; the server answers one request at a
time in arrival order, so TTFT grows with the queue position. In-process, a wave is the same N
prompts answered one after another by one model, each TTFT counted from the wave's start: what a
server that adds nothing would give at that queue position. TTFT is from sending the request (the
wave's start) to its first piece of text; decode tokens/s = (completion tokens - 1) / (last piece -
first piece), completion tokens of the answer's text by the model's own tokenizer
(`core.llm.local_tokens.text_tokens`) for every path; for the system paths the `questions` row the
Tutor recorded gives them, with its prompt tokens, which must equal the in-process prompt's.

In-process and system runs never overlap: the paths run one after another, each round in another
order (this machine's speed drifts), with a pause between them for the system's own trailing work;
printed beside each table is the CPU other processes used while the in-process model ran (the
system's model server should be idle then). Targets: decode >= 0.9x in-process at every
concurrency; TTFT p50 <= 1.2x in-process + 100 ms at one learner. `--server-settings` adds a fourth
path: in-process with llama_cpp.server's default model settings (logits_all=True, which
ops/local_llm.py's config leaves on), to tell what that costs from what serving costs.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

from core.config import Settings, load_settings  # noqa: E402

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SETS = (("xquad", "en"), ("xquad", "ar"), ("piaf", "fr"))
LOCAL, LOCAL_ALL, HTTP, HANDLE = "in-process", "in-process, logits_all", "HTTP /chat/ask", "Tutor handle"
SYSTEM = (HTTP, HANDLE)
# What llama_cpp.server samples with for the Tutor's request (it sends temperature, max_tokens only).
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}
PAUSE_S = 1.0


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@dataclass
class Prompt:
    question: str                 # as the learner sends it
    messages: list[dict[str, str]]
    tokens: int                   # prompt tokens as the model server counts them


@dataclass
class Stream:
    """One answer as it arrived: when its request left, its text pieces' times, what the system said."""
    prompt: Prompt
    started: float
    request_id: str = ""
    first: float | None = None
    last: float | None = None
    text: str = ""
    failure: str | None = None    # refused / reset / not answered by the LLM
    tokens: int = 0
    prompt_tokens: int | None = None
    position: int = 0             # 1-based order of first pieces within its wave

    def piece(self, text: str) -> None:
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.text += text

    @property
    def ttft(self) -> float:
        return (self.first or math.inf) - self.started

    @property
    def decode(self) -> float | None:
        if self.first is None or self.last is None or self.tokens < 2 or self.last <= self.first:
            return None
        return (self.tokens - 1) / (self.last - self.first)


@dataclass
class Side:
    streams: list[Stream] = field(default_factory=list)
    seconds: float = 0.0
    others_cpu_s: float = 0.0     # CPU time of every other process while this side ran
    server_cpu_s: float = 0.0     # of which the system's model server


# --- the system -------------------------------------------------------------------------------

def server_pid(settings: Settings) -> int | None:
    try:
        return int((settings.run_dir / "llm_server.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def server_maps(pid: int | None, model_path: Path) -> bool:
    """Whether the model server process has `model_path` mapped (the file it serves)."""
    if pid is None:
        return False
    try:
        return any(Path(m.path) == model_path for m in psutil.Process(pid).memory_maps())
    except (psutil.Error, OSError):
        return False


async def ingest(passages: list[dict[str, Any]]) -> None:
    from actors.ingestion_client import Ingestion
    from ops.ingest import ingest_jobs

    client = Ingestion()
    jobs = [await client.submit_file(p["text"].encode(), f"{p['id']}.txt", uri=f"bench-llm:{p['id']}")
            for p in passages]
    failed = [j for j in await ingest_jobs(client, jobs, desc="ingesting eval passages") if j["state"] == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} passage(s) failed to ingest: {failed[0].get('detail')}")


def material(per_set: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The first `per_set` passages of each set, and their questions, the sets' in turn."""
    passages, groups = [], []
    for name, lang in SETS:
        kept = [p for p in load(EVAL / name / "passages.jsonl") if p["lang"] == lang][:per_set]
        ids = {p["id"] for p in kept}
        passages += kept
        groups.append([q["question"] for q in load(EVAL / name / "questions.jsonl")
                       if q["lang"] == lang and q["passage_id"] in ids])
    questions = [q for row in zip(*groups) for q in row]
    return passages, questions


async def learners(settings: Settings, n: int, tier: str) -> list[tuple[int, str]]:
    """`n` new users of `tier`, topped up, each with a learner API token."""
    from actors.wallet_client import Wallet
    from core.db import api_tokens
    from core.db.pool import open_pool
    from core.ledger.tiers import MICRO

    pool = await open_pool(settings.DATABASE_URL or "", max_size=2, name="bench")
    try:
        async with pool.connection() as conn:
            rows = await (await conn.execute(
                "INSERT INTO users (first_name, tier) SELECT 'bench-llm', %s FROM generate_series(1, %s) RETURNING id",
                (tier, n))).fetchall()
        users = [row["id"] for row in rows]
        wallet = Wallet(settings)
        for user in users:
            await wallet.top_up(user, 100 * MICRO, f"bench-llm-fund-{user}", memo="bench/llm.py")
        return [(user, await api_tokens.issue(pool, user, "learner")) for user in users]
    finally:
        await pool.close()


async def prompts(settings: Settings, questions: list[str], tier: Any, model_path: Path, wanted: int) -> list[Prompt]:
    """The messages the Tutor builds for each question (no history), until `wanted` have hits."""
    from core.answer.prompt import grounded_messages
    from core.llm import local_tokens
    from core.retrieval.query import QueryError, parse
    from serve_app.retrieval_client import deployment_handle

    retriever, made = deployment_handle(), []
    for question in questions:
        try:
            query = parse(question, 1, None)
        except QueryError:
            continue
        hits = await retriever.retrieve.remote(query.text, tier.retrieval_k, None, tier.name, None,
                                               f"bench-llm-{uuid.uuid4().hex}")
        if not hits:  # the Tutor would answer "not in the material" without the model
            continue
        try:
            messages, _ = grounded_messages(query.text, hits, query.language,
                                            max_context_tokens=settings.answer_context_tokens)
        except ValueError:
            continue
        made.append(Prompt(question, messages, local_tokens.prompt_tokens(model_path, messages)))
        if len(made) == wanted:
            return made
    raise SystemExit(f"only {len(made)} of {wanted} questions have hits; raise --passages")


async def http_one(http: aiohttp.ClientSession, token: str, prompt: Prompt, started: float) -> Stream:
    stream = Stream(prompt, started, request_id=f"bench-llm-{uuid.uuid4().hex}")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": stream.request_id,
               "X-Request-ID": stream.request_id}
    async with http.post("/chat/ask", json={"question": prompt.question}, headers=headers) as answer:
        answer.raise_for_status()
        buffer = b""
        async for chunk in answer.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                data = next((line[6:] for line in block.decode().splitlines() if line.startswith("data: ")), None)
                if data is not None:
                    event(stream, json.loads(data))
    return stream


async def handle_one(user: int, prompt: Prompt, started: float) -> Stream:
    from core.request_id import bound
    from serve_app.tutor_client import Tutor

    stream = Stream(prompt, started, request_id=f"bench-llm-{uuid.uuid4().hex}")
    with bound(stream.request_id):
        async for item in Tutor().ask(user, prompt.question, f"bench-llm:{stream.request_id}"):
            event(stream, item)
    return stream


def event(stream: Stream, item: dict[str, Any]) -> None:
    kind = item["type"]
    if kind == "delta":
        stream.piece(item["text"])
    elif kind == "reset":
        stream.failure = "reset (the LLM failed mid-answer)"
    elif kind == "refused":
        stream.failure = f"refused {item['reason']}: {item.get('detail', '')}"
    elif kind == "done" and item["mode"] != "llm" and stream.failure is None:
        stream.failure = f"answered {item['mode']}, not by the LLM"


async def system_wave(path: str, http: aiohttp.ClientSession, people: list[tuple[int, str]],
                      batch: list[Prompt]) -> list[Stream]:
    from serve_app.tutor_client import Tutor

    tutor = Tutor()
    await asyncio.gather(*(tutor.forget(user) for user, _ in people[:len(batch)]))
    started = time.perf_counter()
    if path == HTTP:
        calls = [http_one(http, token, p, started) for (_, token), p in zip(people, batch)]
    else:
        calls = [handle_one(user, p, started) for (user, _), p in zip(people, batch)]
    return list(await asyncio.gather(*calls))


async def recorded(settings: Settings, streams: list[Stream]) -> None:
    """Completion and prompt tokens of system answers from the `questions` rows the Tutor wrote."""
    async with await psycopg.AsyncConnection.connect(settings.DATABASE_URL or "", autocommit=True) as conn:
        rows = await (await conn.execute(
            "SELECT request_id, tokens_in, tokens_out, mode FROM questions WHERE kind = 'answer' "
            "AND request_id = ANY(%s)", ([s.request_id for s in streams],))).fetchall()
    found = {r[0]: r for r in rows}
    for stream in streams:
        row = found.get(stream.request_id)
        if row is None:
            stream.failure = stream.failure or "no questions row"
            continue
        stream.prompt_tokens, stream.tokens = row[1], row[2]
        if row[3] != "llm":
            stream.failure = stream.failure or f"recorded mode {row[3]}"


# --- in-process -------------------------------------------------------------------------------

def local_wave(llm: Any, batch: list[Prompt], max_tokens: int, temperature: float) -> list[Stream]:
    """The prompts answered one after another by one model, as queued at the same moment."""
    started, streams = time.perf_counter(), []
    for prompt in batch:
        stream = Stream(prompt, started, prompt_tokens=prompt.tokens)
        for chunk in llm.create_chat_completion(prompt.messages, stream=True, max_tokens=max_tokens,
                                                temperature=temperature, **SAMPLING):
            piece = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if piece:
                stream.piece(piece)
        streams.append(stream)
    return streams


# --- running ----------------------------------------------------------------------------------

def cpu_marks(pid: int | None) -> tuple[float, float, float]:
    """(CPU seconds of the whole machine, of this process, of the model server) so far."""
    times = psutil.cpu_times()
    busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
    mine = psutil.Process().cpu_times()
    server = 0.0
    if pid is not None:
        try:
            t = psutil.Process(pid).cpu_times()
            server = t.user + t.system
        except psutil.Error:
            pass
    return busy, mine.user + mine.system, server


async def run_side(side: Side, waves: Callable[[], Any], pid: int | None) -> None:
    before, began = cpu_marks(pid), time.perf_counter()
    streams: list[Stream] = await waves()
    after = cpu_marks(pid)
    side.seconds += time.perf_counter() - began
    side.others_cpu_s += (after[0] - before[0]) - (after[1] - before[1])
    side.server_cpu_s += after[2] - before[2]
    side.streams += streams


def positions(streams: list[Stream]) -> None:
    for rank, stream in enumerate(sorted(streams, key=lambda s: s.first or math.inf), start=1):
        stream.position = rank


async def run(settings: Settings, args: argparse.Namespace) -> None:
    from llama_cpp import Llama

    from core.llm import local_tokens
    from core.llm.local_models import MODELS
    from core.ledger.tiers import tier as tier_named

    model = MODELS[settings.LOCAL_LLM_MODEL]
    model_path = settings.models_dir / model.file_name
    pid = server_pid(settings)
    if not model_path.exists() or not server_maps(pid, model_path):
        raise SystemExit(f"the system's local model server (pid {pid}) does not serve {model_path}: is `ustadh up` "
                         f"running here with LOCAL_LLM_MODEL={settings.LOCAL_LLM_MODEL} and no LLM endpoint?")
    from ray import serve

    status = await serve.get_deployment_handle("TutorApp", app_name="ustadh").status.remote()
    if status["llm"] != "configured" or status["breaker"].get("state", "closed") != "closed":
        raise SystemExit(f"the Tutor does not answer from the model now: {status}")
    tier = tier_named(args.tier)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    passages, questions = material(args.passages)
    await ingest(passages)
    made = await prompts(settings, questions, tier, model_path, 1 + len(concurrency) * args.rounds * args.requests)
    warm, made = made[0], made[1:]
    people = await learners(settings, max(concurrency), tier.name)

    def new_llm(**extra: Any) -> Any:
        return Llama(str(model_path), n_ctx=settings.LOCAL_LLM_CONTEXT, n_threads=settings.LOCAL_LLM_THREADS,
                     n_threads_batch=settings.LOCAL_LLM_THREADS, verbose=False, **extra)

    models = {LOCAL: new_llm()}
    if args.server_settings:
        models[LOCAL_ALL] = new_llm(logits_all=True)
    paths = [*models, HTTP, HANDLE]
    results: dict[tuple[str, int], Side] = {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=args.timeout)
    base = f"http://{settings.HTTP_HOST}:{settings.HTTP_PORT}"
    async with aiohttp.ClientSession(base, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=max(concurrency))) as http:
        for name, llm in models.items():  # warm-up: pages of the model file, first-call costs, every path
            await asyncio.to_thread(local_wave, llm, [warm], tier.max_answer_tokens, args.temperature)
        for path in SYSTEM:
            await system_wave(path, http, people, [warm])
        await asyncio.sleep(PAUSE_S)
        for conc in concurrency:
            for round_ in range(args.rounds):
                batch, made = made[:args.requests], made[args.requests:]
                waves = [batch[i:i + conc] for i in range(0, len(batch), conc)]
                order = paths[round_ % len(paths):] + paths[:round_ % len(paths)]
                for path in order:
                    side = results.setdefault((path, conc), Side())
                    if path in models:
                        async def go(llm: Any = models[path]) -> list[Stream]:
                            out = []
                            for wave in waves:
                                out += await asyncio.to_thread(local_wave, llm, wave, tier.max_answer_tokens,
                                                               args.temperature)
                            return out
                    else:
                        async def go(path: str = path) -> list[Stream]:
                            out = []
                            for wave in waves:
                                got = await system_wave(path, http, people, wave)
                                positions(got)
                                out += got
                            return out
                    await run_side(side, go, pid)
                    await asyncio.sleep(PAUSE_S)  # the Tutor settles and records after its last event
    for (path, conc), side in results.items():
        if path in SYSTEM:
            await recorded(settings, side.streams)
        else:
            for stream in side.streams:
                stream.tokens = local_tokens.text_tokens(model_path, stream.text)
        for i in range(0, len(side.streams), conc):
            if path not in SYSTEM:
                positions(side.streams[i:i + conc])
    report(settings, args, model_path, pid, tier, concurrency, paths, results)


# --- report -----------------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def report(settings: Settings, args: argparse.Namespace, model_path: Path, pid: int | None, tier: Any,
           concurrency: list[int], paths: list[str], results: dict[tuple[str, int], Side]) -> None:
    print(f"\nmodel {settings.LOCAL_LLM_MODEL}: {model_path}\n  the same file is mapped by the system's model server "
          f"(pid {pid}) and loaded in-process; n_ctx {settings.LOCAL_LLM_CONTEXT}, {settings.LOCAL_LLM_THREADS} "
          f"threads on both; {os.cpu_count()} CPU(s)")
    print(f"  tier {tier.name}: {tier.retrieval_k} passages, answers up to {tier.max_answer_tokens} tokens, prompt budget "
          f"{settings.answer_context_tokens} tokens; temperature {args.temperature}, "
          + ", ".join(f"{k} {v}" for k, v in SAMPLING.items()))
    print(f"  {args.requests} questions a path per concurrency and round, {args.rounds} round(s) in turned order; "
          f"TTFT from sending (a wave's start); in-process waves are queued on one model\n")
    print(f"{'path':>22} {'conc':>4} | {'n':>3} {'TTFT p50':>9} {'p95 ms':>8} | {'decode tok/s':>12} | "
          f"{'prompt tok':>10} {'answer tok':>10} | {'TTFT / in-p.':>12} {'+ms p50':>8} {'decode / in-p.':>14} | targets")
    verdicts: list[str] = []
    for conc in concurrency:
        base = results[(LOCAL, conc)]
        base_ok = [s for s in base.streams if s.failure is None]
        base50 = statistics.median(s.ttft for s in base_ok)
        base_dec = statistics.median(d for s in base_ok if (d := s.decode) is not None)
        for path in paths:
            side = results[(path, conc)]
            ok = [s for s in side.streams if s.failure is None]
            if not ok:
                print(f"{path:>22} {conc:>4} | no answer from the LLM: {side.streams[0].failure if side.streams else ''}")
                continue
            ttfts = [s.ttft for s in ok]
            decodes = [d for s in ok if (d := s.decode) is not None]
            p50, p95 = statistics.median(ttfts), pct(ttfts, 0.95)
            dec = statistics.median(decodes) if decodes else float("nan")
            prompt_tok = statistics.mean(s.prompt_tokens or 0 for s in ok)
            answer_tok = statistics.mean(s.tokens for s in ok)
            line = (f"{path:>22} {conc:>4} | {len(ok):>3} {p50 * 1000:9.0f} {p95 * 1000:8.0f} | {dec:12.1f} | "
                    f"{prompt_tok:10.0f} {answer_tok:10.0f} | ")
            targets = ""
            if path != LOCAL:
                line += f"{p50 / base50:11.2f}x {(p50 - base50) * 1000:8.0f} {dec / base_dec:13.2f}x | "
                if path in SYSTEM:
                    decode_met = dec >= 0.9 * base_dec
                    targets = f"decode {'met' if decode_met else 'MISSED'}"
                    verdicts.append(f"{path} at {conc}: decode {dec / base_dec:.2f}x "
                                    f"{'met' if decode_met else 'MISSED'} (>= 0.9x)")
                    if conc == 1:
                        limit = 1.2 * base50 + 0.1
                        ttft_met = p50 <= limit
                        targets += f", TTFT {'met' if ttft_met else 'MISSED'} (<= {limit * 1000:.0f} ms)"
                        verdicts.append(f"{path} at 1: TTFT p50 {p50 * 1000:.0f} ms vs in-process "
                                        f"{base50 * 1000:.0f} ms -> {'met' if ttft_met else 'MISSED'} "
                                        f"(<= 1.2x + 100 ms = {limit * 1000:.0f} ms)")
            else:
                line += f"{'':>12} {'':>8} {'':>14} | "
            print(line + targets)
            failed = [s for s in side.streams if s.failure is not None]
            if failed:
                print(f"{'':>22}      {len(failed)} request(s) left out: {failed[0].failure}")
            mismatched = [s for s in ok if s.prompt_tokens is not None and s.prompt_tokens != s.prompt.tokens]
            if mismatched:
                s = mismatched[0]
                print(f"{'':>22}      {len(mismatched)} prompt(s) differ from the in-process one "
                      f"(e.g. {s.prompt_tokens} vs {s.prompt.tokens} tokens)")
    for conc in concurrency:
        if conc == 1:
            continue
        print(f"\nTTFT p50 ms by queue position at {conc} learners (order of first tokens in a wave):")
        print(f"{'path':>22} | " + " ".join(f"{f'#{p}':>8}" for p in range(1, conc + 1)))
        for path in paths:
            ok = [s for s in results[(path, conc)].streams if s.failure is None]
            cells = []
            for p in range(1, conc + 1):
                at = [s.ttft for s in ok if s.position == p]
                cells.append(f"{statistics.median(at) * 1000:8.0f}" if at else f"{'-':>8}")
            print(f"{path:>22} | " + " ".join(cells))
    print("\nCPU of other processes while each path ran (core-seconds / seconds; the model server's share):")
    for conc in concurrency:
        cells = []
        for path in paths:
            side = results[(path, conc)]
            cells.append(f"{path} {side.others_cpu_s:.1f}/{side.seconds:.1f} s (server {side.server_cpu_s:.1f})")
        print(f"  at {conc}: " + "; ".join(cells))
    print("\ntargets: " + ("\n         ".join(verdicts) if verdicts else "none measured"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="questions a path per concurrency and round")
    parser.add_argument("--concurrency", default="1,4", help="learners asking at once, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per concurrency, paths in turned order")
    parser.add_argument("--passages", type=int, default=4, help="eval passages ingested per set")
    parser.add_argument("--tier", default="premium", choices=("free", "standard", "premium"))
    parser.add_argument("--temperature", type=float, default=0.2, help="in-process; the Tutor asks 0.2")
    parser.add_argument("--server-settings", action="store_true",
                        help="also in-process with llama_cpp.server's model defaults (logits_all=True)")
    parser.add_argument("--timeout", type=float, default=900.0, help="s without a byte before an HTTP answer fails")
    args = parser.parse_args()
    if not (EVAL / "xquad" / "passages.jsonl").exists():
        print(f"needs the shared eval sets at {EVAL}")
        return 2
    settings = load_settings(LOG_LEVEL="WARNING")
    if settings.llm_endpoint_configured or settings.LOCAL_LLM != "auto":
        print("the system answers from an LLM endpoint or without the local model; unset OPENAI_BASE_URL / "
              "LLM_BASE_URL / OPENAI_API_KEY and LOCAL_LLM")
        return 2
    from core.logs import setup_logging
    from ops.datadir import DataDirLock
    from ops.ray_local import join_running_system
    from ops.services import resolved_settings

    setup_logging(settings, "bench")
    if not DataDirLock(settings.run_dir).held_elsewhere():
        print(f"no `ustadh up` runs on {settings.DATA_DIR}; start it in this environment first")
        return 2
    join_running_system(settings)
    with resolved_settings(settings) as resolved:
        # As the Tutor sees them: the local model server's URL is what makes its prompt budget.
        tutor_settings = resolved.model_copy(
            update={"LOCAL_LLM_URL": f"http://127.0.0.1:{settings.LOCAL_LLM_PORT}/v1"})
        asyncio.run(run(tutor_settings, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
