"""The local model through the system: time to first token and decode tokens/s of answers, beside
the same model and the same prompts in-process (run by hand; never a timed test).

    .venv/bin/python bench/llm.py [--requests 8] [--concurrency 1,4] [--rounds 2] [--tier premium]
                                  [--temperature 0] [--server-settings] [--timeout 900]

Joins the system `ustadh up` runs in the same environment (DATA_DIR, ports, LOCAL_LLM_*), as
`ustadh eval` does; it must answer from its local model server (no OPENAI_BASE_URL / LLM_BASE_URL /
OPENAI_API_KEY, LOCAL_LLM=auto). The model is LOCAL_LLM_MODEL: qwen2.5-1.5b by default,
smollm2-135m for a quick try. For example, beside another copy of the system on this machine:

    export DATA_DIR=/tmp/llmbench HTTP_PORT=8720 DASHBOARD_PORT=8721 HAPROXY_STATS_PORT=8722 \\
           HAPROXY_METRICS_PORT=8723 SERVE_FALLBACK_PORT=8724 LOCAL_LLM_PORT=8725 LOCAL_LLM_MODEL=smollm2-135m
    .venv/bin/ustadh up &                       # wait for "Ustadh ready"
    .venv/bin/python bench/llm.py --requests 4  # then stop `ustadh up` (Ctrl-C / kill -INT)

Material: passages of XQuAD en, XQuAD ar (other articles than the English ones) and PIAF fr
(../shared/eval) are ingested as public documents `bench-llm:<id>` (a re-run finds them unchanged),
and one question of each passage is asked, the sets in turn: no two prompts in a row start with the
same passage, so the model server's kept prefix (it keeps the evaluated prefix of the previous
prompt) is the system prompt only, as for most learners. Public, because `POST /chat/ask` takes no
`source_ids`: both system paths search what a learner searches. The learners are new users of
`--tier` (premium by default; its answer cap is `max_tokens` on every path), topped up through the
wallet, each with an API token; their conversation memory is forgotten before each question, so
the Tutor's prompt carries no history.

Paths, at each `--concurrency` (learners asking at once):
  in-process      llama_cpp.Llama on the GGUF file the system's model server has mapped (checked in
                  that process's memory maps), with the server's n_ctx (LOCAL_LLM_CONTEXT) and
                  threads (LOCAL_LLM_THREADS), `create_chat_completion(stream=True)` on the messages
                  the Tutor builds: `grounded_messages(question, hits, language,
                  max_context_tokens=answer_context_tokens)` from the Retriever's hits for that
                  question (same deployment, k and tier as the Tutor). Sampling as the Tutor's
                  request reaches llama_cpp.server: temperature 0 as core/llm/chat.py asks
                  (`--temperature`), and the server's defaults for what it does not send (top_k 40,
                  top_p 0.95, min_p 0.05, repeat_penalty 1.1).
  HTTP /chat/ask  the learner's bearer token; the answer read as Server-Sent Events.
  Tutor handle    `actors.clients.tutor.Tutor().ask(...)`, as the bot calls it.
  (`--server-settings` adds "in-process, logits_all": llama_cpp.server's default model settings,
  which ops/local_llm.py's config does not override, to tell what they cost from what serving does.)
With N learners the questions go in waves of N sent at once; the server answers one request at a
time in arrival order, so TTFT grows with the queue position (printed per position). In-process, a
wave is the same N prompts answered one after another by one model, each TTFT counted from the
wave's start: what a server adding nothing would give at that position. TTFT is from sending the
request (the wave's start) to its first piece of text; decode tokens/s = (completion tokens - 1) /
(last piece - first piece). Completion tokens are the answer text's by the model's own tokenizer
(`core.llm.local_tokens.text_tokens`); for the system paths, from the `questions` row the Tutor
recorded, with its prompt tokens, which must equal the in-process prompt's (a difference is printed).
A model's refusal that the Tutor replaces by the quoted answer (a `reset` after the refusal, then
mode "extractive") is timed like any answer: its pieces were the model's; it is counted apart.

In-process and system runs never overlap: the paths run one after another, in another order each
round (this machine's speed drifts), with a pause after each for the Tutor's trailing work. Beside
the tables: CPU used while each path ran by the model server, the rest of the system (the
supervisor's processes: Ray, Serve, HAProxy, stores), this bench, and everything else on the
machine; the in-process figures are only a baseline when the model server and the rest stayed idle.
Targets: decode >= 0.9x in-process at every concurrency; TTFT p50 <= 1.2x in-process + 100 ms at one
learner (met / MISSED).
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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import psutil
import psycopg

from core.answer.checks import is_refusal
from core.config import Settings, load_settings

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
LOCAL, LOCAL_ALL, HTTP, HANDLE = "in-process", "in-process, logits_all", "HTTP /chat/ask", "Tutor handle"
SYSTEM = (HTTP, HANDLE)
# What llama_cpp.server samples with for the Tutor's request, which sends only temperature and max_tokens.
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}
PAUSE_S = 1.0
IDLE_CORES = 0.1  # more than this busy elsewhere during in-process runs is reported


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
    failure: str | None = None    # refused, reset, failed, or not answered by the LLM
    replaced: bool = False        # the model refused and the Tutor sent the quoted answer instead
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
    """One path at one concurrency, over its rounds."""
    streams: list[Stream] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CPU_PARTS, 0.0))


# --- CPU while a path runs ----------------------------------------------------------------------

CPU_PARTS = ("model server", "rest of the system", "this bench", "other processes")


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuMeter:
    """CPU seconds of the model server, the rest of the supervisor's processes, this one, and the
    rest of the machine, between two marks."""

    def __init__(self, supervisor: int | None, server: int | None) -> None:
        self.supervisor, self.server = supervisor, server

    def mark(self) -> tuple[float, float, dict[int, float]]:
        times = psutil.cpu_times()
        machine = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        tree: dict[int, float] = {}
        try:
            root = psutil.Process(self.supervisor) if self.supervisor else None
            for process in [root, *root.children(recursive=True)] if root else []:
                try:
                    tree[process.pid] = _cpu_s(process)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        return machine, _cpu_s(psutil.Process()), tree

    def spent(self, before: tuple[float, float, dict[int, float]],
              after: tuple[float, float, dict[int, float]]) -> dict[str, float]:
        deltas = {pid: max(0.0, s - before[2].get(pid, 0.0)) for pid, s in after[2].items()}
        server = deltas.pop(self.server, 0.0) if self.server is not None else 0.0
        system, bench = sum(deltas.values()), after[1] - before[1]
        others = max(0.0, after[0] - before[0] - server - system - bench)
        return dict(zip(CPU_PARTS, (server, system, bench, others)))


# --- the system ---------------------------------------------------------------------------------

def server_pid(settings: Settings) -> int | None:
    """The pid the supervisor recorded for the local model server (ops/local_llm.py's run file)."""
    from ops.local_llm import LocalModelServer

    try:
        return int(LocalModelServer(settings).pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def supervisor_pid(settings: Settings) -> int | None:
    """The pid of `ustadh up`, which its DATA_DIR lock file holds."""
    from ops.datadir import DataDirLock

    try:
        return int(DataDirLock(settings.run_dir).path.read_text().strip())
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


def material(wanted: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Passages for `wanted` questions (a few more, for questions without hits), one question of
    each, the sets in turn; XQuAD's Arabic passages are other articles than its English ones."""
    per_set = math.ceil(wanted / 3) + 2
    passages, groups = [], []
    for name, lang, skip in (("xquad", "en", 0), ("xquad", "ar", per_set), ("piaf", "fr", 0)):
        kept = [p for p in load(EVAL / name / "passages.jsonl") if p["lang"] == lang][skip:skip + per_set]
        first: dict[str, str] = {}
        for q in load(EVAL / name / "questions.jsonl"):
            if q["lang"] == lang:
                first.setdefault(q["passage_id"], q["question"])
        kept = [p for p in kept if p["id"] in first]
        passages += kept
        groups.append([first[p["id"]] for p in kept])
    return passages, [q for row in zip(*groups) for q in row]


async def ingest(passages: list[dict[str, Any]]) -> None:
    from actors.clients.ingestion import Ingestion
    from ops.ingest import ingest_jobs

    client = Ingestion()
    jobs = [await client.submit_file(p["text"].encode(), f"{p['id']}.txt", uri=f"bench-llm:{p['id']}")
            for p in passages]
    failed = [j for j in await ingest_jobs(client, jobs, desc="ingesting eval passages") if j["state"] == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} passage(s) failed to ingest: {failed[0].get('error')}")


async def learners(settings: Settings, n: int, tier: str) -> list[tuple[int, str]]:
    """`n` new users of `tier`, topped up, each with a learner API token."""
    from actors.clients.wallet import Wallet
    from core.db import api_tokens
    from core.db.pool import open_pool
    from core.ledger.tiers import MICRO

    pool = await open_pool(settings.DATABASE_URL or "", None, max_size=2, name="bench")
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
    """The messages the Tutor builds for each question (no history), for `wanted` questions with hits."""
    from actors.clients.retrieval import deployment_handle
    from core.answer.prompt import grounded_messages
    from core.llm import local_tokens
    from core.retrieval.query import QueryError, parse

    retriever, made = deployment_handle(), []
    for question in questions:
        try:
            query = parse(question, 1, None)  # as the Tutor reads the question
        except QueryError:
            continue
        hits = await retriever.retrieve.remote(query.text, tier.retrieval_k, None, tier.name, None,
                                               f"bench-llm-{uuid.uuid4().hex}")
        if not hits:  # the Tutor would say "not in the material" without the model
            continue
        try:
            messages, _ = grounded_messages(query.text, hits, query.language,
                                            max_context_tokens=settings.answer_context_tokens)
        except ValueError:
            continue
        made.append(Prompt(question, messages, local_tokens.prompt_tokens(model_path, messages)))
        if len(made) == wanted:
            return made
    raise SystemExit(f"only {len(made)} of {wanted} questions have hits")


def event(stream: Stream, item: dict[str, Any]) -> None:
    kind = item["type"]
    if kind == "delta":
        stream.piece(item["text"])
    elif kind == "reset" and is_refusal(stream.text):  # the model's whole refusal, replaced by a quote:
        stream.replaced = True                           # its pieces were the model's, timed as any answer
    elif kind == "reset":
        stream.failure = "reset (the LLM failed mid-answer)"
    elif kind == "refused":
        stream.failure = f"refused {item['reason']}: {item.get('detail', '')}"
    elif kind == "done" and item["mode"] != "llm" and stream.failure is None and not stream.replaced:
        stream.failure = f"answered {item['mode']}, not by the LLM"


async def http_one(http: aiohttp.ClientSession, token: str, prompt: Prompt, started: float) -> Stream:
    stream = Stream(prompt, started, request_id=f"bench-llm-{uuid.uuid4().hex}")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": stream.request_id,
               "X-Request-ID": stream.request_id}
    try:
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
    except (TimeoutError, aiohttp.ClientError) as exc:
        stream.failure = f"HTTP failed: {type(exc).__name__}: {exc}"[:200]
    return stream


async def handle_one(tutor: Any, user: int, prompt: Prompt, started: float) -> Stream:
    from ray.exceptions import RayError

    from actors.clients.tutor import TutorUnavailable
    from core.request_id import bound

    stream = Stream(prompt, started, request_id=f"bench-llm-{uuid.uuid4().hex}")
    with bound(stream.request_id):  # the id the Tutor records the answer under
        try:
            async for item in tutor.ask(user, prompt.question, f"bench-llm:{stream.request_id}"):
                event(stream, item)
        except (TutorUnavailable, RayError) as exc:  # Tutor.ask lets some RayErrors through (OutOfMemoryError)
            stream.failure = f"Tutor failed: {type(exc).__name__}: {exc}"[:200]
    return stream


async def system_wave(path: str, http: aiohttp.ClientSession, tutor: Any, people: list[tuple[int, str]],
                      batch: list[Prompt]) -> list[Stream]:
    """The prompts' questions asked at once, one learner each; their streams, positions set."""
    await asyncio.gather(*(tutor.forget(user) for user, _ in people[:len(batch)]))
    started = time.perf_counter()
    if path == HTTP:
        calls = [http_one(http, token, p, started) for (_, token), p in zip(people, batch)]
    else:
        calls = [handle_one(tutor, user, p, started) for (user, _), p in zip(people, batch)]
    streams = list(await asyncio.gather(*calls))
    positions(streams)
    return streams


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
        if row[3] != "llm" and not stream.replaced:
            stream.failure = stream.failure or f"recorded mode {row[3]}"


# --- in-process ---------------------------------------------------------------------------------

def local_wave(llm: Any, batch: list[Prompt], max_tokens: int, temperature: float) -> list[Stream]:
    """The prompts answered one after another by one model, as if queued at the same moment."""
    started, streams = time.perf_counter(), []
    for prompt in batch:
        stream = Stream(prompt, started, prompt_tokens=prompt.tokens)
        for chunk in llm.create_chat_completion(prompt.messages, stream=True, max_tokens=max_tokens,
                                                temperature=temperature, **SAMPLING):
            piece = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if piece:
                stream.piece(piece)
        streams.append(stream)
    positions(streams)
    return streams


# --- running ------------------------------------------------------------------------------------

def positions(streams: list[Stream]) -> None:
    for rank, stream in enumerate(sorted(streams, key=lambda s: s.first or math.inf), start=1):
        stream.position = rank


async def run_side(side: Side, meter: CpuMeter, waves: list[list[Prompt]],
                   one_wave: Callable[[list[Prompt]], Awaitable[list[Stream]]]) -> list[Stream]:
    before, began = meter.mark(), time.perf_counter()
    streams = [s for wave in waves for s in await one_wave(wave)]
    after = meter.mark()
    side.seconds += time.perf_counter() - began
    for part, seconds in meter.spent(before, after).items():
        side.cpu[part] += seconds
    side.streams += streams
    return streams


async def run(settings: Settings, args: argparse.Namespace) -> None:
    from llama_cpp import Llama
    from ray import serve

    from actors.clients.tutor import Tutor
    from core.ledger.tiers import tier as tier_named
    from core.llm import local_tokens
    from core.llm.local_models import MODELS

    model_path = settings.models_dir / MODELS[settings.LOCAL_LLM_MODEL].file_name
    pid = server_pid(settings)
    if not model_path.exists() or not server_maps(pid, model_path):
        raise SystemExit(f"the system's local model server (pid {pid}) does not serve {model_path}: is `ustadh up` "
                         f"running here with LOCAL_LLM_MODEL={settings.LOCAL_LLM_MODEL} and no LLM endpoint?")
    status = await serve.get_deployment_handle("TutorApp", app_name="ustadh").status.remote()
    if status["llm"] != "configured" or status["breaker"].get("state") != "closed":
        raise SystemExit(f"the Tutor does not answer from the model now: {status}")
    tier = tier_named(args.tier)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    wanted = 1 + len(concurrency) * args.rounds * args.requests
    passages, questions = material(wanted)
    await ingest(passages)
    made = await prompts(settings, questions, tier, model_path, wanted)
    warm, made = made[0], made[1:]
    people = await learners(settings, max(concurrency), tier.name)
    tutor, meter = Tutor(), CpuMeter(supervisor_pid(settings), pid)

    def new_llm(**extra: Any) -> Any:  # as ops/local_llm.py configures the server's model
        return Llama(str(model_path), n_ctx=settings.LOCAL_LLM_CONTEXT, n_threads=settings.LOCAL_LLM_THREADS,
                     n_threads_batch=settings.LOCAL_LLM_THREADS, verbose=False, **extra)

    models = {LOCAL: new_llm()}
    if args.server_settings:
        models[LOCAL_ALL] = new_llm(logits_all=True)
    paths = [*models, *SYSTEM]
    results = {(path, conc): Side() for conc in concurrency for path in paths}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=args.timeout)
    base = f"http://{settings.HTTP_HOST}:{settings.HTTP_PORT}"
    async with aiohttp.ClientSession(base, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=max(concurrency))) as http:
        def local(llm: Any) -> Callable[[list[Prompt]], Awaitable[list[Stream]]]:
            return lambda wave: asyncio.to_thread(local_wave, llm, wave, tier.max_answer_tokens, args.temperature)

        def served(path: str) -> Callable[[list[Prompt]], Awaitable[list[Stream]]]:
            return lambda wave: system_wave(path, http, tutor, people, wave)

        runners = {**{name: local(llm) for name, llm in models.items()}, **{path: served(path) for path in SYSTEM}}
        for path in paths:  # warm-up: the model file's pages, first calls, every path
            await runners[path]([warm])
        await asyncio.sleep(PAUSE_S)
        args.load = [os.getloadavg()[0]]
        for conc in concurrency:
            for round_ in range(args.rounds):
                batch, made = made[:args.requests], made[args.requests:]
                waves = [batch[i:i + conc] for i in range(0, len(batch), conc)]
                order = paths[round_ % len(paths):] + paths[:round_ % len(paths)]
                server_ran = False
                for path in order:
                    if path in SYSTEM and server_ran and len(waves) == 1:
                        # The server kept one of these very prompts: ask another question first.
                        await runners[HANDLE]([warm])
                    server_ran = server_ran or path in SYSTEM
                    side = results[(path, conc)]
                    fresh = await run_side(side, meter, waves, runners[path])
                    answered = [s.ttft for s in fresh if s.first is not None]
                    print(f"[{conc} learner(s), round {round_ + 1}] {path}: {len(fresh)} answers, TTFT p50 "
                          f"{statistics.median(answered) * 1000 if answered else math.nan:.0f} ms; load average "
                          f"{os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
                    await asyncio.sleep(PAUSE_S)  # the Tutor settles and records after its last event
    args.load.append(os.getloadavg()[0])
    for (path, _), side in results.items():
        if path in SYSTEM:
            await recorded(settings, side.streams)
        else:
            for stream in side.streams:
                stream.tokens = local_tokens.text_tokens(model_path, stream.text)
    report(settings, args, model_path, pid, tier, concurrency, paths, results)


# --- report -------------------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def report(settings: Settings, args: argparse.Namespace, model_path: Path, pid: int | None, tier: Any,
           concurrency: list[int], paths: list[str], results: dict[tuple[str, int], Side]) -> None:
    print(f"\nmodel {settings.LOCAL_LLM_MODEL}: {model_path}\n  the same file the system's model server (pid {pid}) "
          f"has mapped and this process loaded; n_ctx {settings.LOCAL_LLM_CONTEXT}, {settings.LOCAL_LLM_THREADS} "
          f"thread(s) on both; {os.cpu_count()} CPU(s)")
    print(f"  tier {tier.name}: {tier.retrieval_k} passages, answers up to {tier.max_answer_tokens} tokens, prompt "
          f"budget {settings.answer_context_tokens} tokens (o200k_base, as core.answer.prompt counts them); "
          f"temperature {args.temperature:g}, " + ", ".join(f"{k} {v}" for k, v in SAMPLING.items()))
    print(f"  {args.requests} questions a path per concurrency and round, {args.rounds} round(s), paths in turned "
          f"order; TTFT from sending (a wave's start); in-process waves queued on one model; load average "
          f"{args.load[0]:.1f} at the start, {args.load[1]:.1f} at the end\n")
    print(f"{'path':>22} {'conc':>4} | {'n':>3} {'TTFT p50':>9} {'p95 ms':>8} | {'decode tok/s':>12} | "
          f"{'prompt tok':>10} {'answer tok':>10} | {'TTFT/in-p.':>10} {'+ms p50':>8} {'decode/in-p.':>12} | targets")
    verdicts: list[str] = []
    for conc in concurrency:
        base = [s for s in results[(LOCAL, conc)].streams if s.failure is None]
        base50 = statistics.median(s.ttft for s in base)
        base_dec = statistics.median(d for s in base if (d := s.decode) is not None)
        for path in paths:
            side = results[(path, conc)]
            ok = [s for s in side.streams if s.failure is None]
            if not ok:
                print(f"{path:>22} {conc:>4} | no answer from the model: {side.streams[0].failure}")
                verdicts.append(f"{path} at {conc}: no answer from the model -> MISSED")
                continue
            ttfts = [s.ttft for s in ok]
            decodes = [d for s in ok if (d := s.decode) is not None]
            p50, p95 = statistics.median(ttfts), pct(ttfts, 0.95)
            dec = statistics.median(decodes) if decodes else math.nan
            line = (f"{path:>22} {conc:>4} | {len(ok):>3} {p50 * 1000:9.0f} {p95 * 1000:8.0f} | {dec:12.1f} | "
                    f"{statistics.mean(s.prompt_tokens or 0 for s in ok):10.0f} "
                    f"{statistics.mean(s.tokens for s in ok):10.0f} | ")
            if path == LOCAL:
                print(line + f"{'':>10} {'':>8} {'':>12} |")
            else:
                targets = ""
                if path in SYSTEM:
                    decode_met = dec >= 0.9 * base_dec
                    targets = f"decode {'met' if decode_met else 'MISSED'}"
                    verdicts.append(f"{path} at {conc}: decode {dec:.1f} tok/s = {dec / base_dec:.2f}x in-process "
                                    f"({base_dec:.1f}) -> {'met' if decode_met else 'MISSED'} (>= 0.9x)")
                    if conc == 1:
                        limit = 1.2 * base50 + 0.1
                        ttft_met = p50 <= limit
                        targets += f", TTFT {'met' if ttft_met else 'MISSED'} (<= {limit * 1000:.0f} ms)"
                        verdicts.append(f"{path} at 1: TTFT p50 {p50 * 1000:.0f} ms vs in-process {base50 * 1000:.0f} "
                                        f"ms -> {'met' if ttft_met else 'MISSED'} (<= 1.2x + 100 ms = "
                                        f"{limit * 1000:.0f} ms)")
                print(line + f"{p50 / base50:9.2f}x {(p50 - base50) * 1000:8.0f} {dec / base_dec:11.2f}x | {targets}")
            failed = [s for s in side.streams if s.failure is not None]
            if failed:
                print(f"{'':>28}{len(failed)} request(s) left out: {failed[0].failure}")
            replaced = sum(s.replaced for s in side.streams)
            if replaced:
                print(f"{'':>28}{replaced} answer(s) a refusal by the model, timed, then replaced by the quoted answer")
            mismatched = [s for s in ok if s.prompt_tokens is not None and s.prompt_tokens != s.prompt.tokens]
            if mismatched:
                print(f"{'':>28}{len(mismatched)} prompt(s) not the in-process one (e.g. "
                      f"{mismatched[0].prompt_tokens} vs {mismatched[0].prompt.tokens} tokens)")
    for conc in [c for c in concurrency if c > 1]:
        print(f"\nTTFT p50 ms by queue position at {conc} learners (order of first tokens in a wave):")
        print(f"{'path':>22} | " + " ".join(f"{f'#{p}':>8}" for p in range(1, conc + 1)))
        for path in paths:
            ok = [s for s in results[(path, conc)].streams if s.failure is None]
            cells = [[s.ttft for s in ok if s.position == p] for p in range(1, conc + 1)]
            print(f"{path:>22} | " + " ".join(f"{statistics.median(c) * 1000:8.0f}" if c else f"{'-':>8}"
                                              for c in cells))
    print("\nCPU while each path ran, in cores busy on average: " + " / ".join(CPU_PARTS))
    alone = True
    for conc in concurrency:
        for path in paths:
            side = results[(path, conc)]
            cores = {part: s / max(side.seconds, 1e-9) for part, s in side.cpu.items()}
            tokens = sum(s.tokens for s in side.streams) or 1
            per_token = side.cpu["rest of the system"] / tokens * 1000
            print(f"{path:>22} {conc:>4} | {side.seconds:7.0f} s | " + " / ".join(f"{cores[p]:4.2f}" for p in CPU_PARTS)
                  + (f" | rest of the system {per_token:.1f} ms CPU per answer token" if path in SYSTEM else ""))
            if path not in SYSTEM and any(cores[p] > IDLE_CORES for p in CPU_PARTS if p != "this bench"):
                alone = False
    if not alone:
        print(f"  the in-process runs were NOT alone on the machine (> {IDLE_CORES} core busy elsewhere): "
              "its baseline is low")
    print("\ntargets: " + ("\n         ".join(verdicts) if verdicts else "none measured"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="questions a path per concurrency and round")
    parser.add_argument("--concurrency", default="1,4", help="learners asking at once, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per concurrency, paths in turned order")
    parser.add_argument("--tier", default="premium", choices=("free", "standard", "premium"))
    parser.add_argument("--temperature", type=float, default=0.0, help="in-process; the Tutor asks 0")
    parser.add_argument("--server-settings", action="store_true",
                        help="also in-process with llama_cpp.server's model defaults (logits_all=True: another "
                             "copy of the model and up to n_ctx x vocabulary floats of logits, 2.5 GB for the 1.5B)")
    parser.add_argument("--timeout", type=float, default=900.0, help="s without a byte before an HTTP answer fails")
    args = parser.parse_args()
    if not (EVAL / "xquad" / "passages.jsonl").exists():
        print(f"needs the shared eval sets at {EVAL}")
        return 2
    settings = load_settings(LOG_LEVEL="WARNING")
    if settings.llm_endpoint_configured or settings.LOCAL_LLM != "auto":
        print("the system would answer from an LLM endpoint or without the local model; unset OPENAI_BASE_URL, "
              "LLM_BASE_URL, OPENAI_API_KEY and LOCAL_LLM")
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
        # As the Tutor sees them: the local model server's URL is what sets its prompt budget.
        tutor_settings = resolved.model_copy(update={"LOCAL_LLM_URL": f"http://127.0.0.1:{settings.LOCAL_LLM_PORT}/v1"})
        asyncio.run(run(tutor_settings, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
