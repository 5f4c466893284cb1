"""Cross-cutting concerns around every update: metrics, request id, the user row, the user's language."""
