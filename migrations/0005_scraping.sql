-- Scraping: the crawls of each web source (one running at a time per source) and what each crawl
-- did with each page (kept, unchanged, duplicate, rejected, skipped, error), with the validators
-- (ETag / Last-Modified), content digest and links that let a re-sync skip pages that did not change
-- (and still follow their links after a 304).
-- `sources` itself comes from 0001 (with last_sync_at); a source whose crawls keep failing is
-- paused once consecutive_failures reaches the crawler's limit.

ALTER TABLE sources
    ADD COLUMN IF NOT EXISTS consecutive_failures INT NOT NULL DEFAULT 0;

CREATE TABLE crawls (
    id           BIGSERIAL PRIMARY KEY,
    source_id    BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    state        TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    trigger      TEXT NOT NULL DEFAULT 'manual',
    counts       JSONB NOT NULL DEFAULT '{}',
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    error        TEXT
);
CREATE UNIQUE INDEX crawls_one_running_per_source ON crawls (source_id) WHERE state = 'running';
CREATE INDEX crawls_recent ON crawls (source_id, started_at DESC);

CREATE TABLE crawl_pages (
    source_id       BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    crawl_id        BIGINT REFERENCES crawls (id) ON DELETE SET NULL,
    etag            TEXT,
    last_modified   TEXT,
    content_sha256  TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('kept', 'unchanged', 'duplicate', 'rejected', 'skipped', 'error')),
    reason          TEXT,
    document_id     BIGINT REFERENCES documents (id) ON DELETE SET NULL,
    links           TEXT[] NOT NULL DEFAULT '{}',
    fetched_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source_id, url)
);
CREATE INDEX crawl_pages_by_crawl ON crawl_pages (crawl_id);
