-- Ingestion: job progress and outcome, the chunking settings a document was cut with, and the
-- vector collections (one per embedding model) with the one readers use marked active.

ALTER TABLE ingestion_jobs
    ADD COLUMN title           TEXT,
    ADD COLUMN visibility      TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'admin')),
    ADD COLUMN error_code      TEXT,
    ADD COLUMN content_sha256  TEXT,
    ADD COLUMN progress_done   INT NOT NULL DEFAULT 0,
    ADD COLUMN progress_total  INT NOT NULL DEFAULT 0,
    ADD COLUMN result          JSONB;
CREATE INDEX ingestion_jobs_recent ON ingestion_jobs (created_at DESC);

ALTER TABLE documents
    ADD COLUMN chunking  TEXT NOT NULL DEFAULT '',
    ADD COLUMN pages     INT;

CREATE TABLE vector_collections (
    name           TEXT PRIMARY KEY,
    model          TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    dimension      INT NOT NULL CHECK (dimension > 0),
    state          TEXT NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at   TIMESTAMPTZ,
    UNIQUE (model, model_version, dimension)
);
CREATE UNIQUE INDEX vector_collections_one_active ON vector_collections ((true)) WHERE state = 'active';
