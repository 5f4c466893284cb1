-- Ownership enforced by PostgreSQL: one login role per kind of process, each allowed to write only
-- the tables its owner writes (`core.db.roles` names which process connects as which role, and
-- tests/test_db_roles.py checks these grants against that map).
--
--   ustadh_wallet     accounts, reservations, ledger_entries, idempotency_keys (the shard actors)
--   ustadh_ingestor   documents, chunks, embedding_refs, vector_collections, ingestion_jobs, ingestion_audit
--   ustadh_crawler    sources, crawls, crawl_pages
--   ustadh_tutor      quizzes, quiz_questions, quiz_attempts, questions
--   ustadh_gateway,   users and api_tokens, through the group role ustadh_accounts (the accounts
--   ustadh_bot        use case runs in both surfaces); otherwise they only read
--   ustadh_retriever  reads only
--   ustadh_scheduler  reads only (reconciliation, exports: these read api_tokens too)
--
-- Every login role reads every table through the group role ustadh_reader, except api_tokens (token
-- hashes), which only the surfaces that authenticate read. Roles belong to the whole PostgreSQL
-- cluster, so they are created once and shared by every Ustadh database in it; the grants are this
-- database's. The migrating user (the one in DATABASE_URL) needs CREATEROLE; it keeps owning the
-- tables and stays the operator's account (migrations, `ustadh restore`, the CLI's one-off reads).
-- On a server with password authentication, give each role a password (ALTER ROLE ... PASSWORD)
-- and the processes' hosts a ~/.pgpass line for it; trust and peer setups need nothing more.

DO $$
DECLARE
    role_name TEXT;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['ustadh_reader', 'ustadh_accounts'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another database's migration won
            END;
        END IF;
    END LOOP;
    FOREACH role_name IN ARRAY ARRAY['ustadh_wallet', 'ustadh_ingestor', 'ustadh_crawler', 'ustadh_tutor',
                                'ustadh_gateway', 'ustadh_bot', 'ustadh_retriever', 'ustadh_scheduler'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        EXECUTE format('GRANT ustadh_reader TO %I', role_name);
    END LOOP;
    EXECUTE 'GRANT ustadh_accounts TO ustadh_gateway, ustadh_bot';
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ustadh_reader', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO ustadh_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ustadh_reader;
REVOKE SELECT ON api_tokens FROM ustadh_reader;
GRANT SELECT ON api_tokens TO ustadh_scheduler;  -- exports carry the token hashes
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ustadh_reader;

GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, reservations, ledger_entries, idempotency_keys TO ustadh_wallet;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, chunks, embedding_refs, vector_collections,
    ingestion_jobs, ingestion_audit TO ustadh_ingestor;
GRANT SELECT, INSERT, UPDATE, DELETE ON sources, crawls, crawl_pages TO ustadh_crawler;
GRANT SELECT, INSERT, UPDATE, DELETE ON quizzes, quiz_questions, quiz_attempts, questions TO ustadh_tutor;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, api_tokens TO ustadh_accounts;
