"""Grounded answers (Ray-free): numbered sources and their citations, the LLM prompt built from
retrieved passages, and an offline extractive answer for when no LLM is available."""
