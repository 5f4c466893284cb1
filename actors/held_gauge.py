"""A Ray gauge whose last values stay on `/metrics` between sets.

Ray stops exporting a gauge's value that is not set again within two export intervals (~20 s):
a value set once per reconciliation (hourly) or when a breaker changes state would be gone from
`/metrics` almost all the time, and the alerts on it would never see it. `HeldGauge` remembers
each tag set's last value and sets it again every HOLD_S from a task on the owner's event loop
(started by the first `set` made inside a running loop).
"""
from __future__ import annotations

import asyncio

from ray.util.metrics import Gauge

HOLD_S = 5.0


class HeldGauge:
    def __init__(self, name: str, description: str, tag_keys: tuple[str, ...] = ()) -> None:
        self.gauge = Gauge(name, description, tag_keys=tag_keys)
        self.values: dict[tuple[tuple[str, str], ...], float] = {}
        self.task: asyncio.Task[None] | None = None

    def set(self, value: float, tags: dict[str, str] | None = None) -> None:
        key = tuple(sorted((tags or {}).items()))
        self.values[key] = value
        self.gauge.set(value, tags=dict(key))
        if self.task is None or self.task.done():
            try:
                self.task = asyncio.get_running_loop().create_task(self._hold(), name="hold-gauge")
            except RuntimeError:  # no loop here: the next set from one starts it
                self.task = None

    async def _hold(self) -> None:
        while True:
            await asyncio.sleep(HOLD_S)
            for key, value in list(self.values.items()):
                self.gauge.set(value, tags=dict(key))
