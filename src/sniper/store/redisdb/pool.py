"""When the order persister's pool grows and shrinks: one worker while orders trickle in, more
while a backlog builds up at an opening (so the SQL copy keeps up), back to one when they idle.
A pure policy, so that the rules are tested without Redis or time passing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """Grow by one worker while the backlog is at least ``grow_at`` entries (up to
    ``max_workers``); a worker idle for ``idle_s`` leaves (down to ``min_workers``)."""

    min_workers: int = 1
    max_workers: int = 8
    grow_at: int = 50
    idle_s: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_workers <= self.max_workers:
            raise ValueError("need 1 <= min_workers <= max_workers")

    def grow(self, workers: int, backlog: int) -> bool:
        """Whether to start one more worker."""
        return workers < self.min_workers or (
            backlog >= self.grow_at and workers < self.max_workers
        )

    def retire(self, workers: int, idle_for_s: float) -> bool:
        """Whether a worker idle for ``idle_for_s`` should leave."""
        return workers > self.min_workers and idle_for_s >= self.idle_s
