"""Ingestion domain: extraction, fetching, job states, corpus writes."""
