"""Retrieval: the facade the bot (and any in-cluster caller) uses to reach the Retriever
deployment through a Serve deployment handle, not HTTP.

Bad questions come back as `QueryError` (with the reason); a missing or failing deployment as
`RetrievalUnavailable`.
"""
from __future__ import annotations

from typing import Any

from ray.exceptions import RayActorError, RayTaskError

from core.request_id import current_request_id
from core.retrieval.query import QueryError

APP = "retrieval"  # its own Serve application (serve_app.retrieval_api)
DEPLOYMENT = "RetrieverApp"


def deployment_handle() -> Any:
    """The Retriever deployment's handle, looked up by name (it is not in the caller's application)."""
    from ray import serve

    return serve.get_deployment_handle(DEPLOYMENT, app_name=APP)


class RetrievalUnavailable(RuntimeError):
    """The Retriever deployment is not running or failed; try again later."""


class Retrieval:
    def __init__(self) -> None:
        self._handle: Any = None

    async def search(self, question: str, k: int, tier: str, lang: str | None = None) -> list[dict[str, Any]]:
        try:
            return await self._deployment().retrieve.remote(question, k, lang, tier, None, current_request_id())
        except RayTaskError as exc:
            if isinstance(exc.cause, QueryError):
                raise exc.cause from None
            raise RetrievalUnavailable(str(exc.cause)[:300]) from None
        except QueryError:
            raise
        except (RayActorError, ValueError, RuntimeError) as exc:
            self._handle = None
            raise RetrievalUnavailable(str(exc)[:300]) from None

    def _deployment(self) -> Any:
        if self._handle is None:
            self._handle = deployment_handle()
        return self._handle
