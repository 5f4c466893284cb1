"""Cross-cutting concerns around every update: request id, the user row, the user's language."""
