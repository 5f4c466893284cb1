"""The corpus: documents, their chunks and the vector collections, as stored in PostgreSQL."""
