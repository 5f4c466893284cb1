"""HTTP surface of the Tutor: `POST /chat/ask` (an SSE stream) and `POST /quizzes/generate`.

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
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from core.db.api_tokens import Principal
from core.request_id import current_request_id
from serve_app import strict_json
from serve_app.deps import Resources, principal, resources

router = strict_json.router(tags=["tutor"])
_STATUS = {"bad_query": 422, "bad_count": 422, "rate_limited": 429, "busy": 429, "quota": 429,
           "insufficient_credit": 402, "no_material": 404, "unknown_user": 403, "unavailable": 503,
           "idempotency_conflict": 409}


class AskRequest(BaseModel):
    question: Any = None


class QuizRequest(BaseModel):
    topic: Any = None
    n: Any = 5


def _key(caller: Principal, idempotency_key: str | None) -> str:
    given = (idempotency_key or "")[:128] or current_request_id()
    return f"http:{caller.user_id}:{given}"


@router.post("/chat/ask")
async def ask(body: AskRequest, caller: Annotated[Principal, Depends(principal)],
              res: Annotated[Resources, Depends(resources)],
              idempotency_key: Annotated[str | None, Header()] = None) -> StreamingResponse:
    if not isinstance(body.question, str):
        raise HTTPException(422, "question must be text")
    events = res.tutor.options(stream=True).ask.remote(caller.user_id, body.question, _key(caller, idempotency_key),
                                                        current_request_id())
    return StreamingResponse(_sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _sse(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


@router.post("/quizzes/generate")
async def generate_quiz(body: QuizRequest, caller: Annotated[Principal, Depends(principal)],
                        res: Annotated[Resources, Depends(resources)],
                        idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    if not isinstance(body.topic, str) or type(body.n) is not int:
        raise HTTPException(422, "topic must be text and n an integer")
    made = await res.tutor.quiz.remote(caller.user_id, body.topic, body.n, _key(caller, idempotency_key),
                                       current_request_id())
    if made["type"] == "refused":
        raise HTTPException(_STATUS.get(made["reason"], 400), {"reason": made["reason"], "detail": made["detail"]})
    return made
