"""HTTP surface of retrieval: `POST /retrieve {query, lang?, k?}` → ranked chunks with citations.

The caller's token decides the tier (retrieval depth and reranking): `k` defaults to the tier's
depth. Bad input — an empty query, one over 2,000 characters, only emoji or control characters,
`k` outside 1-50, an unknown `lang` — answers 422 with the reason.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from ray.exceptions import RayTaskError

from core.db.api_tokens import Principal
from core.ledger.tiers import tier as tier_named
from core.request_id import current_request_id
from core.retrieval.query import QueryError
from serve_app.deps import Resources, principal, resources

router = APIRouter(tags=["retrieval"])


class RetrieveRequest(BaseModel):
    query: Any = None
    lang: Any = None
    k: Any = None


@router.post("/retrieve")
async def retrieve(body: RetrieveRequest, caller: Annotated[Principal, Depends(principal)],
                   res: Annotated[Resources, Depends(resources)]) -> JSONResponse:
    tier = caller.tier
    k = tier_named(tier).retrieval_k if body.k is None else body.k
    try:
        hits = await res.retriever.retrieve.remote(body.query, k, body.lang, tier, None, current_request_id())
    except (QueryError, RayTaskError) as exc:
        cause = exc.cause if isinstance(exc, RayTaskError) else exc
        if isinstance(cause, QueryError):
            raise HTTPException(422, str(cause)) from None
        raise
    return JSONResponse({"hits": hits, "tier": tier})  # plain JSON already: no jsonable_encoder walk
