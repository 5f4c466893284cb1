"""Learners in Telegram, end to end over the loopback Bot API and OpenAI servers: grounded, cited,
streamed answers billed exactly; refusals that charge nothing; the LLM breaker falling back to the
extractive answer; long answers split; 429 honoured; quizzes as polls, answers recorded, /score.

Two Tutors run: the session's (offline: no LLM configured) and one deployed here as its own Serve
application whose settings point at a FakeOpenAI served from a background thread."""
from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from actors.clients.ingestion import Ingestion
from actors.clients.tutor import Tutor
from actors.clients.wallet import Wallet
from bot.split import visible_text as visible
from bot.texts import CATALOG
from core.ledger.money import format_credits
from core.ledger.reconcile import reconcile
from core.ledger.tiers import cost
from serve_app.tutor import Tutor as TutorDeployment
from tests.conftest import RaySystem, new_users
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import ADMIN, Chat, bearer, issue_token, running_bot, tg  # noqa: F401 - tg is a fixture
from tests.test_ingestion import wait_job

REPLIES = {
    "ar": "القراءة مفتاح المعرفة والكتابة أداتها كما يذكر الدرس [1]. وقد حفظت المدارس الكبرى كتب العلم [1].",
    "fr": "Selon le cours, la mémoire s'améliore lorsqu'on s'interroge soi-même plutôt que de relire [1].",
    "en": "Plants turn water and carbon dioxide into sugar using sunlight, as the lesson explains [1].",
}
QUESTIONS = {
    "ar": "ما هو مفتاح المعرفة حسب الدرس؟",
    "fr": "Comment la mémoire s'améliore-t-elle selon les enseignants ?",
    "en": "How do green plants use sunlight in photosynthesis?",
}
_LANGUAGE_NAMES = {"Arabic": "ar", "French": "fr", "English": "en"}


def requested_language(request: dict[str, Any]) -> str:
    """The language the Tutor's prompt asks the answer in (its last message says)."""
    found = re.search(r"\n\nAnswer in (\w+)", request["messages"][-1]["content"])
    return _LANGUAGE_NAMES.get(found.group(1), "en") if found else "en"


class ThreadedOpenAI:
    """A FakeOpenAI on its own event loop in a thread, so Serve replicas reach it whatever test runs."""

    def __init__(self) -> None:
        self.fake = FakeOpenAI()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for path, body in self.fake.requests if path.endswith("/chat/completions")]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def openai_server() -> Iterator[ThreadedOpenAI]:
    server = ThreadedOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module")
def llm_tutor(ray_system: RaySystem, openai_server: ThreadedOpenAI) -> Iterator[Any]:
    """A Tutor whose LLM is the loopback OpenAI server (its own Serve app; retrieval stays offline)."""
    from ray import serve

    settings = ray_system.settings
    llm_settings = settings.model_copy(update={"OPENAI_BASE_URL": openai_server.fake.base_url + "/v1",
                                               "OPENAI_API_KEY": SecretStr("sk-test"),
                                               "LLM_BREAKER_COOLDOWN_S": 4.0, "LLM_WAIT_NOTICE_S": 1.0})
    handle = serve.run(TutorDeployment.bind(llm_settings), name="tutor-llm", route_prefix=None)
    yield handle
    serve.delete("tutor-llm")


@pytest_asyncio.fixture(scope="module")
async def corpus(ray_system: RaySystem) -> None:
    client = Ingestion()
    for title, text in (("lecture.txt", ARABIC), ("lecon.txt", FRENCH), ("lesson.txt", ENGLISH)):
        job = await client.submit_file(text.encode(), title, uri=f"tutor-test:{uuid.uuid4().hex}")
        done = await wait_job(client, job["id"])
        assert done["state"] == "indexed" or done["error_code"] == "duplicate", done


@pytest_asyncio.fixture
async def llm_tg(ray_system: RaySystem, pool: Any, llm_tutor: Any, openai_server: ThreadedOpenAI
                 ) -> AsyncIterator[FakeTelegram]:
    """The bot, streaming every 0.2 s, answering through the LLM Tutor."""
    openai_server.fake.reset()
    openai_server.fake.responder = lambda request: REPLIES[requested_language(request)]
    openai_server.fake.chunk_delay = 0.05
    async with running_bot(ray_system.settings, pool, Tutor(llm_tutor), STREAM_INTERVAL_S=0.2) as fake:
        yield fake


async def chunk_of_question(pool: Any, question: str) -> str:
    """The text of the chunk a stored quiz question was made from."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """SELECT c.text FROM quiz_questions q JOIN chunks c ON c.id = q.chunk_id
               WHERE q.question = %s ORDER BY q.created_at DESC LIMIT 1""", (question,))).fetchone()
    assert row is not None, question
    return row["text"]


def new_learner() -> int:
    return 5_000_000 + uuid.uuid4().int % 1_000_000  # a range no other test module uses


async def user_id_of(pool: Any, telegram_id: int) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT id FROM users WHERE telegram_id = %s", (telegram_id,))).fetchone()
    return row["id"]


async def answered(tg: FakeTelegram, chat: Chat, question: str, parts: int = 1) -> list[str]:
    chat.tg.message_update(chat_id=chat.user_id, user_id=chat.user_id, text=question, language_code=chat.language)
    texts = []
    for _ in range(parts):
        texts.append(await chat.reply(timeout=60))
    return texts


@pytest.mark.parametrize("language", ["ar", "fr", "en"])
async def test_a_question_gets_a_streamed_cited_answer_in_its_language_billed_exactly(
        corpus: None, llm_tg: FakeTelegram, openai_server: ThreadedOpenAI, pool: Any, ray_system: RaySystem,
        language: str) -> None:
    chat = Chat(llm_tg, new_learner(), language)
    [answer] = await answered(llm_tg, chat, QUESTIONS[language])
    assert REPLIES[language].split("[1]")[0].strip() in visible(answer)
    source_heading = {"ar": "المصادر", "fr": "Sources", "en": "Sources"}[language]
    assert source_heading in answer and "[1]" in answer
    drafts = [c.params["text"] for c in llm_tg.calls("sendMessageDraft") if c.params["chat_id"] == str(chat.user_id)]
    assert len(drafts) >= 2 and all(len(a) <= len(b) for a, b in zip(drafts, drafts[1:]))  # streamed, growing
    [request] = [r for r in openai_server.chat_requests() if QUESTIONS[language] in r["messages"][-1]["content"]]
    assert requested_language(request) == language
    prompt_tokens = sum(len(m["content"].split()) for m in request["messages"])
    expected = cost("gpt-4o-mini", prompt_tokens, len(REPLIES[language].split()))
    balance = await Wallet(ray_system.settings).balance(await user_id_of(pool, chat.user_id))
    assert balance.debits == expected and balance.pending == 0


async def test_not_enough_credit_is_refused_and_charges_nothing(corpus: None, llm_tg: FakeTelegram, pool: Any,
                                                               openai_server: ThreadedOpenAI,
                                                               ray_system: RaySystem) -> None:
    chat = Chat(llm_tg, new_learner(), "fr")
    await chat.say("/start")
    user = await user_id_of(pool, chat.user_id)
    wallet = Wallet(ray_system.settings)
    [first] = await answered(llm_tg, chat, QUESTIONS["fr"])  # the monthly grant arrives with the first question
    before = await wallet.balance(user)
    await wallet.reserve(user, before.available - 1, f"hold:{uuid.uuid4().hex}", ttl_s=600)
    held = await wallet.balance(user)
    calls = len(openai_server.chat_requests())
    reply = await chat.say("Pourquoi réviser un peu chaque jour ?")
    assert "crédit ne suffit pas" in reply and "rien n'a été débité" in reply
    after = await wallet.balance(user)
    assert (after.debits, after.pending) == (held.debits, held.pending)
    assert len(openai_server.chat_requests()) == calls  # the LLM was never asked


async def test_llm_down_opens_the_breaker_and_the_extractive_answer_costs_only_what_was_used(
        corpus: None, llm_tg: FakeTelegram, llm_tutor: Any, openai_server: ThreadedOpenAI, pool: Any,
        ray_system: RaySystem) -> None:
    openai_server.fake.down = True
    try:
        chat = Chat(llm_tg, new_learner(), "en")
        wallet = Wallet(ray_system.settings)
        for _ in range(3):
            [answer] = await answered(llm_tg, chat, "How do green plants use sunlight and water?")
            assert "quoted directly from the course material" in answer and "[1]" in answer
        status = await llm_tutor.status.remote()
        assert status["breaker"]["state"] == "open"
        requests_when_open = len(openai_server.fake.requests)
        [answer] = await answered(llm_tg, chat, "What do plants release into the air?")
        assert len(openai_server.fake.requests) == requests_when_open  # open: not even tried
        balance = await wallet.balance(await user_id_of(pool, chat.user_id))
        async with pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT q.cost, q.mode FROM questions q JOIN users u ON u.id = q.user_id WHERE u.telegram_id = %s",
                (chat.user_id,))).fetchall()
        assert [r["mode"] for r in rows] == ["extractive"] * 4
        assert balance.debits == sum(r["cost"] for r in rows) and balance.pending == 0
        assert all(0 < r["cost"] < cost("gpt-4o-mini", 3000, 400) for r in rows)  # less than held, more than zero
    finally:
        openai_server.fake.down = False
    await asyncio.sleep(4.5)  # the cool-down passes: the next question is the half-open probe, and it succeeds
    [answer] = await answered(llm_tg, chat, QUESTIONS["en"])
    assert "quoted directly" not in answer and REPLIES["en"].split(" [1]")[0] in visible(answer)
    assert (await llm_tutor.status.remote())["breaker"]["state"] == "closed"


async def test_a_refusal_over_material_that_answers_is_replaced_by_the_quoted_answer_billed_for_the_model(
        corpus: None, llm_tutor: Any, openai_server: ThreadedOpenAI, pool: Any, ray_system: RaySystem) -> None:
    from core.answer.prompt import NOT_IN_MATERIAL

    openai_server.fake.reset()
    openai_server.fake.responder = lambda request: NOT_IN_MATERIAL[requested_language(request)]
    tutor = Tutor(llm_tutor)
    [user] = await new_users(pool)
    await Wallet(ray_system.settings).top_up(user, 50_000_000, f"refusal-test:{uuid.uuid4().hex}")
    events = [e async for e in tutor.ask(user, QUESTIONS["en"], f"refusal:{uuid.uuid4().hex}")]
    kinds = [e["type"] for e in events]
    assert "delta" in kinds and kinds.index("reset") > kinds.index("delta")  # the streamed refusal is dropped
    done = events[-1]
    assert done["type"] == "done" and done["mode"] == "extractive" and "sunlight" in done["text"], done
    assert done["sources"] and NOT_IN_MATERIAL["en"] not in done["text"]
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT tokens_in, tokens_out, cost FROM questions WHERE user_id = %s",
                                        (user,))).fetchone()
    request = openai_server.chat_requests()[-1]  # the fake counts tokens as whitespace words
    used = (sum(len(m["content"].split()) for m in request["messages"]), len(NOT_IN_MATERIAL["en"].split()))
    assert (row["tokens_in"], row["tokens_out"]) == used and row["cost"] == cost("gpt-4o-mini", *used)
    # Material that does not answer: the refusal stands. Its words are in no corpus the tests ingest
    # (the XQuAD passages some tests ingest do support "who won the football ...").
    events = [e async for e in tutor.ask(user, "How many valves does a saxophone have?", f"refusal:{uuid.uuid4().hex}")]
    assert "reset" not in [e["type"] for e in events] and events[-1]["mode"] == "llm"
    assert events[-1]["text"] == NOT_IN_MATERIAL["en"] and events[-1]["sources"] == []


async def test_a_learner_whose_answer_is_slow_to_begin_is_told_it_is_queued(
        corpus: None, llm_tg: FakeTelegram, openai_server: ThreadedOpenAI) -> None:
    from bot.texts import CATALOG

    openai_server.fake.chunk_delay = 1.5  # the first piece after 1.5 s; the notice is due after 1 s
    chat = Chat(llm_tg, new_learner(), "fr")
    [answer] = await answered(llm_tg, chat, QUESTIONS["fr"])
    drafts = [c.params["text"] for c in llm_tg.calls("sendMessageDraft") if c.params["chat_id"] == str(chat.user_id)]
    assert CATALOG["answer_queued"]["fr"] in drafts[0], drafts
    assert REPLIES["fr"].split(" [1]")[0] in visible(answer) and CATALOG["answer_queued"]["fr"] not in answer


async def test_a_long_answer_is_split_at_boundaries(corpus: None, llm_tg: FakeTelegram,
                                                    openai_server: ThreadedOpenAI) -> None:
    paragraph = ("Selon le cours, les élèves qui travaillent régulièrement obtiennent de meilleurs résultats [1]. "
                 "Il faut s'interroger soi-même plutôt que relire « passivement » ses notes ; c'est prouvé [1].")
    long_reply = "\n\n".join([paragraph] * 40)
    openai_server.fake.responder = lambda request: long_reply
    openai_server.fake.chunk_delay = 0
    chat = Chat(llm_tg, new_learner(), "fr")
    parts = await answered(llm_tg, chat, QUESTIONS["fr"], parts=2)
    assert all(len(visible(p)) <= 4096 for p in parts)
    joined = " ".join(visible(p) for p in parts)
    assert joined.count("« passivement »") == 40  # nothing lost or cut inside the French quotes
    assert all(p.rstrip().endswith((".", "]", ">")) or "Sources" in p for p in parts)


async def test_a_429_from_telegram_is_waited_out(corpus: None, llm_tg: FakeTelegram) -> None:
    chat = Chat(llm_tg, new_learner(), "en")
    llm_tg.inject_429("sendMessage", retry_after=1)
    llm_tg.message_update(chat_id=chat.user_id, user_id=chat.user_id, text=QUESTIONS["en"])
    refused = await llm_tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == str(chat.user_id), timeout=60)
    retried = await llm_tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == str(chat.user_id), count=2,
                                    timeout=30)
    assert retried.params["text"] == refused.params["text"] and "[1]" in retried.params["text"]
    assert retried.at - refused.at >= 1.0


async def test_a_quiz_arrives_as_polls_and_answers_count_in_the_score(corpus: None, tg: FakeTelegram,
                                                                       pool: Any) -> None:
    chat = Chat(tg, new_learner(), "en")
    intro = await chat.say("/quiz photosynthesis sunlight 2")
    assert "quiz of 2 questions" in intro
    await tg.wait_for("sendPoll", lambda c: c.params["chat_id"] == str(chat.user_id), count=2, timeout=60)
    polls = [c for c in tg.calls("sendPoll") if c.params["chat_id"] == str(chat.user_id)]
    for poll in polls:
        assert poll.params["type"] == "quiz" and 2 <= len(poll.params["options"]) <= 10
        assert len(poll.params["explanation"]) <= 200 and poll.params["explanation"].endswith("]")  # cites
        right_word = poll.params["options"][int(poll.params["correct_option_id"])]
        source = " ".join((await chunk_of_question(pool, poll.params["question"])).split())
        assert poll.params["question"].replace("____", right_word) in source  # the right option is right
    await asyncio.sleep(1)  # poll ids are attached right after each send
    first, second = tg.sent_polls(chat.user_id)
    right = first["correct_option_id"]
    wrong = (second["correct_option_id"] + 1) % len(second["options"])
    tg.poll_answer_update(first["id"], chat.user_id, [right])
    tg.poll_answer_update(second["id"], chat.user_id, [wrong])
    await asyncio.sleep(2)
    score = await chat.say("/score")
    assert "1 right out of 2" in score and "Questions to review: 1" in score
    again = await chat.say("/quiz photosynthesis sunlight 2")
    assert "(1 for review)" in again
    await tg.wait_for("sendPoll", lambda c: c.params["chat_id"] == str(chat.user_id), count=4, timeout=60)
    polls = [c for c in tg.calls("sendPoll") if c.params["chat_id"] == str(chat.user_id)]
    assert polls[2].params["question"] == second["question"]  # the missed one comes back first


async def test_chat_ask_streams_sse_over_http(corpus: None, ray_system: RaySystem, tg: FakeTelegram, pool: Any) -> None:
    learner = Chat(tg, new_learner(), "en")
    await learner.say("/start")
    admin = Chat(tg, ADMIN)
    key = await issue_token(admin, learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        async with http.stream("POST", "/chat/ask", json={"question": QUESTIONS["en"]}, headers=bearer(key)) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            body = "".join([chunk async for chunk in r.aiter_text()])
        assert "event: done" in body and '"mode": "extractive"' in body
        bad = await http.post("/quizzes/generate", json={"topic": "🙂🙂", "n": 2}, headers=bearer(key))
        assert bad.status_code == 422
        made = await http.post("/quizzes/generate", json={"topic": "photosynthesis", "n": 2}, headers=bearer(key))
        assert made.status_code == 200 and len(made.json()["questions"]) == 2
        assert (await http.post("/chat/ask", json={"question": "x"})).status_code == 401


async def test_quiz_answers_over_http_count_in_the_score_the_bot_shows(corpus: None, ray_system: RaySystem,
                                                                         tg: FakeTelegram) -> None:
    learner, other = Chat(tg, new_learner(), "en"), Chat(tg, new_learner(), "en")
    for chat in (learner, other):
        await chat.say("/start")
    admin = Chat(tg, ADMIN)
    key, other_key = await issue_token(admin, learner.user_id), await issue_token(admin, other.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        made = (await http.post("/quizzes/generate", json={"topic": "photosynthesis", "n": 2},
                                headers=bearer(key))).json()
        first, second = made["questions"]
        answers = f"/quizzes/{made['quiz_id']}/answers"

        async def answer(question: dict[str, Any], option: Any, token: str = key) -> httpx.Response:
            return await http.post(answers, json={"question_id": question["id"], "option": option},
                                   headers=bearer(token))

        right = (await answer(first, first["correct"])).json()
        assert right["correct"] and right["first"] and right["chosen"] == first["correct"]
        wrong_option = (second["correct"] + 1) % len(second["options"])
        wrong = (await answer(second, wrong_option)).json()
        assert not wrong["correct"] and wrong["correct_option"] == second["correct"]
        again = (await answer(first, (first["correct"] + 1) % len(first["options"]))).json()
        assert again["first"] is False and again["correct"] and again["chosen"] == first["correct"]  # first counts
        assert (await answer(first, len(first["options"]))).status_code == 422  # beyond its options
        assert (await answer(first, "1")).status_code == 422
        assert (await answer(first, 0, other_key)).status_code == 404  # another learner's quiz
        assert (await http.post(answers, json={"question_id": "x", "option": 0},
                                headers=bearer(key))).status_code == 422
        score = (await http.get("/quizzes/score", headers=bearer(key))).json()
        asked = (await http.get("/questions", params={"limit": 1}, headers=bearer(key))).json()
    assert (score["answered"], score["correct"], score["due"]) == (2, 1, 1)
    shown = await learner.say("/score")
    assert "1 right out of 2" in shown and "Questions to review: 1" in shown
    assert [(q["kind"], q["status"], q["cost"]) for q in asked["questions"]] == [("quiz", "answered", made["charged"])]
    assert asked["next_before"] == asked["questions"][0]["id"]
    listed = (await learner.say("/asked")).splitlines()  # the bot shows the same record
    cost = format_credits(made["charged"])
    assert listed[0] == CATALOG["asked_header"]["en"] and listed[1].endswith(f"· quiz · answered · \u2066{cost}\u2069")
    assert listed[1].startswith(asked["questions"][0]["created_at"][:10]) and len(listed) == 2
    assert await Chat(tg, new_learner(), "en").say("/asked") == CATALOG["asked_empty"]["en"]


async def test_the_wallet_reconciles_after_the_tutor_tests(ray_system: RaySystem, pool: Any) -> None:
    async with pool.connection() as conn:
        report = await reconcile(conn)
    assert report.ok, report.mismatches


async def test_a_follow_up_is_read_with_the_earlier_turn_until_new(corpus: None, llm_tg: FakeTelegram,
                                                                   openai_server: ThreadedOpenAI) -> None:
    chat = Chat(llm_tg, new_learner(), "en")
    await answered(llm_tg, chat, QUESTIONS["en"])
    await answered(llm_tg, chat, "And where does it happen?")
    follow_up = openai_server.chat_requests()[-1]["messages"]
    assert any(QUESTIONS["en"] in m["content"] for m in follow_up[:-1])  # the first question came along
    assert "forgotten" in await chat.say("/new")
    await answered(llm_tg, chat, "And where does it happen?")
    fresh = openai_server.chat_requests()[-1]["messages"]
    assert not any(QUESTIONS["en"] in m["content"] for m in fresh)


async def test_an_llm_quiz_is_validated_against_the_passages(corpus: None, llm_tutor: Any, pool: Any,
                                                            openai_server: ThreadedOpenAI) -> None:
    quiz_json = ('```json\n{"questions": ['
                 '{"question": "What do plants use to make sugar?", "options": ["Sunlight", "Sand", "Salt", "Smoke"],'
                 ' "correct": 0, "explanation": "Photosynthesis uses sunlight.", "source": 1},'
                 '{"question": "Invented?", "options": ["a", "b"], "correct": 7, "explanation": "x", "source": 9}'
                 ']}\n```')
    openai_server.fake.responder = lambda request: quiz_json
    async with pool.connection() as conn:
        user = (await (await conn.execute("INSERT INTO users (first_name, tier) VALUES ('q', 'standard') "
                                          "RETURNING id")).fetchone())["id"]
    made = await llm_tutor.quiz.remote(user, "photosynthesis sunlight", 2, f"quiz-test:{uuid.uuid4().hex}")
    assert made["type"] == "quiz" and [q["question"] for q in made["questions"]] == ["What do plants use to make sugar?"]
    assert made["drafted"] == 2  # the invented item was dropped
    assert made["questions"][0]["correct"] == 0 and made["questions"][0]["explanation"].endswith("]")
    request = openai_server.chat_requests()[-1]
    tokens_in = sum(len(m["content"].split()) for m in request["messages"])
    assert made["charged"] == cost("gpt-4o-mini", tokens_in, len(quiz_json.split()))


async def test_a_question_the_material_does_not_answer_is_said_so_and_costs_nothing(
        corpus: None, tg: FakeTelegram, pool: Any, ray_system: RaySystem) -> None:
    from core.answer.prompt import NOT_IN_MATERIAL

    chat = Chat(tg, new_learner(), "fr")
    reply = await chat.say("Quel est le meilleur joueur de football de l'histoire du championnat d'Europe ?")
    assert NOT_IN_MATERIAL["fr"] in reply
    balance = await Wallet(ray_system.settings).balance(await user_id_of(pool, chat.user_id))
    assert balance.debits == 0 and balance.pending == 0
