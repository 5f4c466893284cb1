"""What a use case raises when its rules refuse a request: a stable `code` the surfaces translate
(bot messages) or map to a status (HTTP), and a detail for logs and API clients."""
from __future__ import annotations


class Refusal(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
