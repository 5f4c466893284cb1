-- The whole product's schema: people, money, course material, quizzes.
-- Money columns are integer micro-credits (BIGINT), never floating point.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    telegram_id   BIGINT UNIQUE,
    username      TEXT,
    first_name    TEXT,
    language      TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('ar', 'fr', 'en')),
    role          TEXT NOT NULL DEFAULT 'learner' CHECK (role IN ('learner', 'teacher', 'admin')),
    tier          TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'standard', 'premium')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One wallet account per user. Balances are the running sums of ledger_entries (reconciled).
CREATE TABLE accounts (
    user_id         BIGINT PRIMARY KEY REFERENCES users (id),
    credits_posted  BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_posted   BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    debits_pending  BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT available_not_negative CHECK (credits_posted - debits_posted - debits_pending >= 0)
);

-- Two-phase transfers: pending -> posted | voided | expired, resolved exactly once.
CREATE TABLE reservations (
    id              UUID PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES accounts (user_id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    settled_amount  BIGINT CHECK (settled_amount >= 0 AND settled_amount <= amount),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    purpose         TEXT NOT NULL DEFAULT '',
    request_id      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    CONSTRAINT resolved_iff_not_pending CHECK ((status = 'pending') = (resolved_at IS NULL)),
    CONSTRAINT settled_iff_posted CHECK ((status = 'posted') = (settled_amount IS NOT NULL))
);
CREATE INDEX reservations_pending_expiry ON reservations (expires_at) WHERE status = 'pending';
CREATE INDEX reservations_user_status ON reservations (user_id, status, created_at DESC);

-- Every balance movement. credits/debits/pending_delta sum to the account's columns.
CREATE TABLE ledger_entries (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES accounts (user_id),
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'grant', 'reserve', 'settle', 'void', 'expire')),
    credits         BIGINT NOT NULL DEFAULT 0 CHECK (credits >= 0),
    debits          BIGINT NOT NULL DEFAULT 0 CHECK (debits >= 0),
    pending_delta   BIGINT NOT NULL DEFAULT 0,
    reservation_id  UUID REFERENCES reservations (id),
    request_id      TEXT NOT NULL,
    memo            TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_user ON ledger_entries (user_id, id DESC);

-- Idempotency: one row per wallet request id, with the fingerprint of its arguments and its result.
CREATE TABLE idempotency_keys (
    request_id   TEXT PRIMARY KEY,
    operation    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    result       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Web sources that admins sync into the corpus.
CREATE TABLE sources (
    id                BIGSERIAL PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    seed_urls         TEXT[] NOT NULL DEFAULT '{}',
    sitemap_url       TEXT,
    allow_patterns    TEXT[] NOT NULL DEFAULT '{}',
    language_hint     TEXT CHECK (language_hint IN ('ar', 'fr', 'en')),
    max_depth         INT NOT NULL DEFAULT 2 CHECK (max_depth >= 0),
    page_budget       INT NOT NULL DEFAULT 100 CHECK (page_budget > 0),
    schedule_minutes  INT CHECK (schedule_minutes > 0),
    visibility        TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'admin')),
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    pause_reason      TEXT,
    last_sync_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    id              BIGSERIAL PRIMARY KEY,
    source_id       BIGINT REFERENCES sources (id) ON DELETE SET NULL,
    uri             TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    content_sha256  TEXT NOT NULL,
    language        TEXT CHECK (language IN ('ar', 'fr', 'en')),
    is_hassaniya    BOOLEAN NOT NULL DEFAULT false,
    simhash         BIGINT,
    visibility      TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'admin')),
    etag            TEXT,
    last_modified   TEXT,
    created_by      BIGINT REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX documents_simhash ON documents (simhash);

CREATE TABLE ingestion_jobs (
    id              UUID PRIMARY KEY,
    document_id     BIGINT REFERENCES documents (id) ON DELETE SET NULL,
    source_id       BIGINT REFERENCES sources (id) ON DELETE SET NULL,
    input_uri       TEXT NOT NULL,
    filename        TEXT,
    media_type      TEXT,
    payload_path    TEXT,
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN
                    ('queued', 'extracting', 'normalising', 'chunking', 'embedding', 'indexed', 'failed')),
    error           TEXT,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    requested_by    BIGINT REFERENCES users (id),
    request_id      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_jobs_runnable ON ingestion_jobs (next_attempt_at)
    WHERE state NOT IN ('indexed', 'failed');

CREATE TABLE ingestion_audit (
    id          BIGSERIAL PRIMARY KEY,
    job_id      UUID NOT NULL REFERENCES ingestion_jobs (id) ON DELETE CASCADE,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_audit_job ON ingestion_audit (job_id, id);

-- Chunk ids are deterministic (document + settings + position + text); text stays here, not in Milvus.
CREATE TABLE chunks (
    id               TEXT PRIMARY KEY,
    document_id      BIGINT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal          INT NOT NULL,
    text             TEXT NOT NULL,
    normalized_text  TEXT NOT NULL,
    language         TEXT CHECK (language IN ('ar', 'fr', 'en')),
    token_count      INT NOT NULL,
    page             INT,
    char_start       INT NOT NULL,
    char_end         INT NOT NULL,
    simhash          BIGINT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (document_id, ordinal)
);

CREATE TABLE embedding_refs (
    chunk_id       TEXT NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    model          TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    dimension      INT NOT NULL CHECK (dimension > 0),
    collection     TEXT NOT NULL,
    embedded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chunk_id, model, model_version)
);

CREATE TABLE quizzes (
    id          UUID PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    topic       TEXT NOT NULL,
    language    TEXT NOT NULL CHECK (language IN ('ar', 'fr', 'en')),
    request_id  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE quiz_questions (
    id              UUID PRIMARY KEY,
    quiz_id         UUID NOT NULL REFERENCES quizzes (id) ON DELETE CASCADE,
    ordinal         INT NOT NULL,
    question        TEXT NOT NULL,
    options         JSONB NOT NULL,
    correct_option  INT NOT NULL CHECK (correct_option >= 0),
    explanation     TEXT NOT NULL DEFAULT '',
    chunk_id        TEXT REFERENCES chunks (id) ON DELETE SET NULL,
    poll_id         TEXT UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (quiz_id, ordinal)
);

CREATE TABLE quiz_attempts (
    id             BIGSERIAL PRIMARY KEY,
    question_id    UUID NOT NULL REFERENCES quiz_questions (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    chosen_option  INT NOT NULL,
    correct        BOOLEAN NOT NULL,
    answered_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (question_id, user_id)
);

-- One row per learner question: feeds /stats (questions today, credits spent, p95 latency).
CREATE TABLE questions (
    id             BIGSERIAL PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    request_id     TEXT NOT NULL,
    language       TEXT,
    status         TEXT NOT NULL CHECK (status IN ('answered', 'refused', 'failed')),
    tokens_in      INT NOT NULL DEFAULT 0,
    tokens_out     INT NOT NULL DEFAULT 0,
    cost           BIGINT NOT NULL DEFAULT 0 CHECK (cost >= 0),
    latency_ms     INT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX questions_created ON questions (created_at);

-- Per-user HTTP API tokens (only a hash is stored) carrying a role claim.
CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('learner', 'teacher', 'admin')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
