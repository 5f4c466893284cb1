"""Documents, chunks and vector collections in PostgreSQL.

Chunk text lives here (Milvus holds only ids, vectors and small metadata). A document's chunks are
replaced in one transaction (`replace_chunks`), so readers see either the old version or the new
one, never a mix; a vector in Milvus without a chunk row here is invisible to readers (they join
on these rows), which is what makes "upsert vectors, then commit rows, then delete stale vectors"
safe. One collection per embedding model; readers use the one marked active.

The Ingestor actor is the one writer of `documents`, `chunks`, `embedding_refs` and `vector_collections`;
the Retriever and the Tutor only read them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from core.ingest.prepare import PreparedChunk, Profile


@dataclass(frozen=True)
class StoredDocument:
    id: int
    uri: str
    title: str
    content_sha256: str
    chunking: str


@dataclass(frozen=True)
class DocumentDraft:
    uri: str
    title: str
    media_type: str
    content_sha256: str
    chunking: str
    profile: Profile
    visibility: str
    source_id: int | None
    created_by: int | None
    pages: int | None


@dataclass(frozen=True)
class Collection:
    name: str
    model: str
    model_version: str
    dimension: int
    state: str


async def document_by_uri(conn: AsyncConnection[dict[str, Any]], uri: str) -> StoredDocument | None:
    row = await (await conn.execute(
        "SELECT id, uri, title, content_sha256, chunking FROM documents WHERE uri = %s", (uri,))).fetchone()
    return StoredDocument(**row) if row else None


async def near_duplicate(conn: AsyncConnection[dict[str, Any]], uri: str, fingerprint: int,
                         max_distance: int = 3) -> StoredDocument | None:
    """Another document whose SimHash is within `max_distance` bits of `fingerprint`, if any."""
    row = await (await conn.execute(
        """SELECT id, uri, title, content_sha256, chunking FROM documents
           WHERE uri <> %s AND simhash IS NOT NULL AND bit_count((simhash # %s)::bit(64)) <= %s
           ORDER BY bit_count((simhash # %s)::bit(64)), id LIMIT 1""",
        (uri, fingerprint, max_distance, fingerprint))).fetchone()
    return StoredDocument(**row) if row else None


async def upsert_document(conn: AsyncConnection[dict[str, Any]], draft: DocumentDraft) -> int:
    row = await (await conn.execute(
        """INSERT INTO documents (uri, title, media_type, content_sha256, language, is_hassaniya, simhash, visibility,
                                  source_id, created_by, chunking, pages)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (uri) DO UPDATE SET title = EXCLUDED.title, media_type = EXCLUDED.media_type,
               content_sha256 = EXCLUDED.content_sha256, language = EXCLUDED.language,
               is_hassaniya = EXCLUDED.is_hassaniya, simhash = EXCLUDED.simhash, visibility = EXCLUDED.visibility,
               source_id = COALESCE(EXCLUDED.source_id, documents.source_id), chunking = EXCLUDED.chunking,
               pages = EXCLUDED.pages, updated_at = now()
           RETURNING id""",
        (draft.uri, draft.title, draft.media_type, draft.content_sha256, draft.profile.language,
         draft.profile.is_hassaniya, draft.profile.simhash, draft.visibility, draft.source_id, draft.created_by,
         draft.chunking, draft.pages))).fetchone()
    assert row is not None
    return int(row["id"])


async def lock_uri(conn: AsyncConnection[dict[str, Any]], uri: str) -> None:
    """Serialise writers of one document until the end of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 42))", (uri,))


async def replace_chunks(conn: AsyncConnection[dict[str, Any]], document_id: int,
                         chunks: list[PreparedChunk]) -> list[str]:
    """Make `chunks` the document's chunks; returns the ids of the chunks that were removed."""
    keep = [c.id for c in chunks]
    removed = await (await conn.execute(
        "DELETE FROM chunks WHERE document_id = %s AND NOT (id = ANY(%s)) RETURNING id", (document_id, keep))).fetchall()
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO chunks (id, document_id, ordinal, text, normalized_text, language, token_count, page,
                                   char_start, char_end, simhash)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
            [(c.id, document_id, c.ordinal, c.text, c.normalized_text, c.language, c.token_count, c.page,
              c.char_start, c.char_end, c.simhash) for c in chunks])
    return [row["id"] for row in removed]


async def record_embeddings(conn: AsyncConnection[dict[str, Any]], chunk_ids: list[str],
                            collection: Collection) -> None:
    await conn.execute(
        """INSERT INTO embedding_refs (chunk_id, model, model_version, dimension, collection)
           SELECT unnest(%s::text[]), %s, %s, %s, %s ON CONFLICT (chunk_id, model, model_version) DO NOTHING""",
        (chunk_ids, collection.model, collection.model_version, collection.dimension, collection.name))


def collection_name(model: str, version: str, dimension: int) -> str:
    """A Milvus-safe name (letters, digits, underscores) for a model's collection."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", f"{model}_{version}").strip("_").lower()
    return f"chunks_{slug}_{dimension}"[:255]


async def ensure_collection(conn: AsyncConnection[dict[str, Any]], model: str, version: str,
                            dimension: int) -> Collection:
    """The collection for this model, created (active if none is) on first use."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE vector_collections IN SHARE ROW EXCLUSIVE MODE")
        await conn.execute(
            """INSERT INTO vector_collections (name, model, model_version, dimension, state, activated_at)
               SELECT %s, %s, %s, %s, s, CASE WHEN s = 'active' THEN now() END
               FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM vector_collections WHERE state = 'active')
                                 THEN 'building' ELSE 'active' END AS s) AS pick
               ON CONFLICT (model, model_version, dimension) DO NOTHING""",
            (collection_name(model, version, dimension), model, version, dimension))
        row = await (await conn.execute(
            "SELECT name, model, model_version, dimension, state FROM vector_collections "
            "WHERE model = %s AND model_version = %s AND dimension = %s", (model, version, dimension))).fetchone()
    assert row is not None
    return Collection(**row)


async def active_collection(conn: AsyncConnection[dict[str, Any]]) -> Collection | None:
    row = await (await conn.execute(
        "SELECT name, model, model_version, dimension, state FROM vector_collections WHERE state = 'active'")).fetchone()
    return Collection(**row) if row else None


async def activate(conn: AsyncConnection[dict[str, Any]], name: str) -> None:
    """Make `name` the collection readers use; the previous one is retired."""
    async with conn.transaction():
        await conn.execute("UPDATE vector_collections SET state = 'retired' WHERE state = 'active' AND name <> %s",
                           (name,))
        await conn.execute("UPDATE vector_collections SET state = 'active', activated_at = now() WHERE name = %s",
                           (name,))


@dataclass(frozen=True)
class ChunkRow:
    id: str
    document_id: int
    text: str
    language: str | None
    page: int | None
    source_id: int | None
    visibility: str


async def chunks_missing_embeddings(conn: AsyncConnection[dict[str, Any]], collection: Collection,
                                    after_id: str, limit: int) -> list[ChunkRow]:
    """Chunks with no embedding in `collection`'s model, in id order after `after_id` (for reindex)."""
    rows = await (await conn.execute(
        """SELECT c.id, c.document_id, c.text, c.language, c.page, d.source_id, d.visibility
           FROM chunks c JOIN documents d ON d.id = c.document_id
           WHERE c.id > %s AND NOT EXISTS (SELECT 1 FROM embedding_refs r WHERE r.chunk_id = c.id AND r.model = %s
                                           AND r.model_version = %s)
           ORDER BY c.id LIMIT %s""",
        (after_id, collection.model, collection.model_version, limit))).fetchall()
    return [ChunkRow(**row) for row in rows]


async def count_missing_embeddings(conn: AsyncConnection[dict[str, Any]], collection: Collection) -> int:
    row = await (await conn.execute(
        """SELECT count(*) AS n FROM chunks c WHERE NOT EXISTS (
               SELECT 1 FROM embedding_refs r WHERE r.chunk_id = c.id AND r.model = %s AND r.model_version = %s)""",
        (collection.model, collection.model_version))).fetchone()
    return int((row or {"n": 0})["n"])


async def chunk_rows(conn: AsyncConnection[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """Chunks with their document's title, uri and source, for display and citation; in no order."""
    return await (await conn.execute(
        """SELECT c.id, c.document_id, c.ordinal, c.text, c.language, c.page, d.title, d.uri, d.source_id,
                  d.visibility
           FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ANY(%s)""", (ids,))).fetchall()
