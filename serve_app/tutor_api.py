"""HTTP surface of the Tutor: `POST /chat/ask` (an SSE stream), `POST /quizzes/generate`, answering
a generated quiz's questions (`POST /quizzes/{quiz_id}/answers`, the same record a Telegram poll vote
makes, by the rules of `core.app.quiz_answers`), `GET /quizzes/score` (what `/score` shows) and the
caller's own requests (`GET /questions`).

Both take the caller from their token and bill their wallet as the bot does. `/chat/ask` streams
the Tutor's events as Server-Sent Events (`event: delta|reset|done|refused`, JSON data); a refusal
before any answer (bad question, limits, credit) is still a 200 stream whose one event says why,
so clients read one format. `/quizzes/generate` answers the questions with their correct options
(for the client to present), or a 4xx naming the refusal. `Idempotency-Key` (else X-Request-ID)
keys the billing: a retried request is charged once and
answered with `"replayed": true`; the same key with another question is refused
`idempotency_conflict` (a 409 for quizzes).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Header, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from core.request_id import current_request_id
from serve_app import strict_json
from serve_app.deps import Caller, Principal, Res

router = strict_json.router(tags=["tutor"])
_STATUS = {"bad_query": 422, "bad_count": 422, "rate_limited": 429, "busy": 429, "quota": 429,
           "insufficient_credit": 402, "no_material": 404, "unknown_user": 403, "unavailable": 503,
           "idempotency_conflict": 409, "unknown_question": 404, "bad_option": 422}
_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class AskRequest(BaseModel):
    question: Any = None


class QuizRequest(BaseModel):
    topic: Any = None
    n: Any = 5


def _key(caller: Principal, idempotency_key: str | None) -> str:
    given = (idempotency_key or "")[:128] or current_request_id()
    return f"http:{caller.user_id}:{given}"


@router.post("/chat/ask", response_class=StreamingResponse, responses={200: {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": "Server-Sent Events: waiting, delta, reset, then done or refused (JSON data)"}})
async def ask(body: AskRequest, caller: Caller,
              res: Res,
              idempotency_key: Annotated[str | None, Header()] = None) -> StreamingResponse:
    if not isinstance(body.question, str):
        raise HTTPException(422, "question must be text")
    events = res.tutor.options(stream=True).ask.remote(caller.user_id, body.question, _key(caller, idempotency_key),
                                                        current_request_id())
    return StreamingResponse(_sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _sse(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


class QuizQuestionOut(BaseModel):
    id: str
    quiz_id: str
    question: str
    options: list[str]
    correct: int = Field(description="0-based index of the correct option")
    explanation: str
    chunk_id: str | None
    source: str | None = Field(description="the citation of the passage that states the answer")
    review_of: str | None = Field(description="the earlier question this one asks again, for review")


class QuizOut(BaseModel):
    quiz_id: str
    questions: list[QuizQuestionOut]
    charged: int = Field(description="micro-credits charged")
    language: str
    replayed: bool


@router.post("/quizzes/generate")
async def generate_quiz(body: QuizRequest, caller: Caller,
                        res: Res,
                        idempotency_key: Annotated[str | None, Header()] = None) -> QuizOut:
    if not isinstance(body.topic, str) or type(body.n) is not int:
        raise HTTPException(422, "topic must be text and n an integer")
    made = await res.tutor.quiz.remote(caller.user_id, body.topic, body.n, _key(caller, idempotency_key),
                                       current_request_id())
    if made["type"] == "refused":
        raise HTTPException(_STATUS.get(made["reason"], 400), {"reason": made["reason"], "detail": made["detail"]})
    return QuizOut.model_validate(made)


class QuizAnswer(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    question_id: str = Field(pattern=_UUID)
    option: int = Field(ge=0, le=9)


class AnswerOut(BaseModel):
    question_id: str
    chosen: int = Field(description="the option that counts: this answer's, or the earlier one's when first is false")
    correct: bool
    correct_option: int
    explanation: str
    first: bool


class ScoreOut(BaseModel):
    answered: int
    correct: int
    answered_week: int
    correct_week: int
    due: int = Field(description="questions missed last time, asked again by the next quiz")


class AskedOut(BaseModel):
    id: int
    kind: str
    status: str
    language: str | None
    mode: str | None
    reason: str | None
    tokens_in: int
    tokens_out: int
    cost: int = Field(description="micro-credits charged")
    latency_ms: int | None
    created_at: str


class QuestionsOut(BaseModel):
    questions: list[AskedOut]
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")


@router.post("/quizzes/{quiz_id}/answers")
async def answer_quiz(quiz_id: Annotated[uuid.UUID, Path()], body: QuizAnswer, caller: Caller, res: Res) -> AnswerOut:
    made = await res.tutor.answer.remote(caller.user_id, str(quiz_id), body.question_id.lower(), body.option)
    if made["type"] == "refused":
        raise HTTPException(_STATUS[made["reason"]], {"reason": made["reason"], "detail": made["detail"]})
    return AnswerOut(**{k: v for k, v in made.items() if k != "type"})


@router.get("/quizzes/score")
async def quiz_score(caller: Caller, res: Res) -> ScoreOut:
    return ScoreOut(**await res.tutor.score.remote(caller.user_id))


@router.get("/questions")
async def own_questions(caller: Caller, res: Res, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        before: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> QuestionsOut:
    rows = [AskedOut(**r) for r in await res.tutor.questions.remote(caller.user_id, limit, before)]
    return QuestionsOut(questions=rows, next_before=rows[-1].id if len(rows) == limit else None)
