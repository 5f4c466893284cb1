"""Retrieval maths: lexical analysis, BM25, rank fusion and evaluation metrics (Ray-free)."""
