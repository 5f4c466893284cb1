"""Tutor: the client the bot and the evaluation use to reach the Tutor deployment through a Serve
deployment handle.

`ask` streams the answer's events (`handle.options(stream=True)`); the rest are plain calls. A
missing or failing deployment surfaces as `TutorUnavailable`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from actors.clients.base import FAILURES, DeploymentClient
from core.app.ports import Unavailable
from core.request_id import current_request_id

APP = "ustadh"
DEPLOYMENT = "TutorApp"


class TutorUnavailable(Unavailable):
    """The Tutor deployment is not running or failed; try again later."""


class Tutor(DeploymentClient):
    app, deployment = APP, DEPLOYMENT
    unavailable = TutorUnavailable

    async def ask(self, user_id: int, question: str, key: str, source_ids: list[int] | None = None
                  ) -> AsyncIterator[dict[str, Any]]:
        try:
            handle = (await self._handle_now()).options(stream=True)
            async for event in handle.ask.remote(user_id, question, key, current_request_id(), source_ids):
                yield event
        except FAILURES as exc:
            raise self._failure(exc) from None

    async def quiz(self, user_id: int, topic: str, count: int, key: str,
                   source_ids: list[int] | None = None) -> dict[str, Any]:
        return await self._call("quiz", user_id, topic, count, key, current_request_id(), source_ids)

    async def poll_sent(self, question_id: str, poll_id: str) -> None:
        await self._call("poll_sent", question_id, poll_id)

    async def poll_answer(self, poll_id: str, user_id: int, option_ids: list[int]) -> bool | None:
        return await self._call("poll_answer", poll_id, user_id, option_ids)

    async def questions(self, user_id: int, limit: int, before_id: int | None = None) -> list[dict[str, Any]]:
        return await self._call("questions", user_id, limit, before_id)

    async def score(self, user_id: int) -> dict[str, int]:
        return await self._call("score", user_id)

    async def forget(self, user_id: int) -> None:
        await self._call("forget", user_id)
