"""Reaching the web from inside Ustadh: the SSRF guard and the one guarded HTTP fetcher that ingestion
and crawling share."""
