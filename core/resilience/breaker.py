"""A circuit breaker around one external endpoint (the LLM, the embeddings API).

closed: calls go through; `failure_threshold` failures in a row open it. open: calls are refused
at once (callers take their offline path) until `cooldown_s` has passed; then half-open: one call
is let through as a probe — success closes the breaker, failure opens it for another cool-down.
Hand-written (some 40 lines) because the PyPI breakers (pybreaker, aiobreaker) are either sync-only
or unmaintained, and this one must report its state to /healthz and metrics.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = field(default=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        return HALF_OPEN if self.clock() - self.opened_at >= self.cooldown_s else OPEN

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.probing = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened_at, self.probing = self.clock(), False

    def snapshot(self) -> dict[str, object]:
        return {"state": self.state, "failures": self.failures}
