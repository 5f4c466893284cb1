"""Ray-free text layer used by ingestion and retrieval: normalisation, language, tokens, chunks,
near-duplicate fingerprints and quality checks. Each submodule owns one of these ideas."""
