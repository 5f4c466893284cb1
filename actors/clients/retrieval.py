"""Retrieval: the client the bot (and any in-cluster caller) uses to reach the Retriever deployment
through a Serve deployment handle, not HTTP.

Bad questions come back as `QueryError` (with the reason); a missing or failing deployment as
`RetrievalUnavailable`.
"""
from __future__ import annotations

from typing import Any

from actors.clients import base
from actors.clients.base import DeploymentClient
from core.app.ports import Unavailable
from core.request_id import current_request_id
from core.retrieval.query import QueryError

APP = "retrieval"  # its own Serve application (serve_app.retrieval_api)
DEPLOYMENT = "RetrieverApp"


def deployment_handle() -> Any:
    """The Retriever deployment's handle, looked up by name (it is not in the caller's application)."""
    return base.deployment_handle(DEPLOYMENT, APP)


class RetrievalUnavailable(Unavailable):
    """The Retriever deployment is not running or failed; try again later."""


class Retrieval(DeploymentClient):
    app, deployment = APP, DEPLOYMENT
    unavailable = RetrievalUnavailable
    passes = (QueryError,)

    async def search(self, question: str, k: int, tier: str, lang: str | None = None) -> list[dict[str, Any]]:
        return await self._call("retrieve", question, k, lang, tier, None, current_request_id())
