"""A per-process item cache with a TTL and a sold-out fast path.

Once an item is known to be sold out, the cache also holds every order of that item keyed by
``(user, request_id)``. No new order of a sold-out item can be created until a restock, so that
map is complete, and the flood after the stock is gone is answered from memory: a replay gets
its order, everyone else ``409 sold_out``, and the backend is never touched. A restock through
this process clears the flag at once; other processes see it when their entry's TTL runs out.

A sold-out entry past its TTL is not dropped at once: it keeps answering for up to one more TTL
while the caller reloads it (``refresh_due``), so that the flood does not reach the backend in
a burst every time the flag ages out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sniper.clock import Clock
from sniper.store.models import Item, Order

ReplayMap = Mapping[tuple[str, str], Order]


@dataclass(frozen=True, slots=True)
class SoldOut:
    """What the fast path needs of a sold-out item: its orders by ``(user, request_id)`` (for
    replays), the units each user holds (so that a user at the limit still hears
    ``limit_reached``, which the rules check before stock) and the per-user limit."""

    replays: ReplayMap
    bought: Mapping[str, int]
    limit: int


@dataclass(slots=True)
class _Entry:
    item: Item | None
    loaded: float
    generation: int
    sold_out: SoldOut | None = field(default=None)


class ItemCache:
    """Items by ``sku_id``, fresh for ``ttl`` seconds of the monotonic clock."""

    def __init__(self, ttl: float, clock: Clock, max_items: int = 10_000) -> None:
        self._ttl, self._clock, self._max = ttl, clock, max_items
        self._entries: dict[str, _Entry] = {}
        self._generations: dict[str, int] = {}

    def generation(self, sku_id: str) -> int:
        """A number that changes whenever the item is invalidated; pass it back to the setters."""
        return self._generations.get(sku_id, 0)

    def get(self, sku_id: str) -> tuple[bool, Item | None]:
        """``(hit, item)``; a hit with ``None`` means the item is known not to exist."""
        entry = self._fresh(sku_id)
        return (False, None) if entry is None else (True, entry.item)

    def sold_out(self, sku_id: str) -> tuple[SoldOut | None, bool]:
        """``(state, refresh_due)``: the sold-out state if the item is flagged (else None), and
        whether the flag is past its TTL and should be reloaded."""
        entry = self._entries.get(sku_id)
        if entry is None or entry.sold_out is None:
            return None, False
        age = self._clock.monotonic() - entry.loaded
        if age >= 2 * self._ttl:
            del self._entries[sku_id]
            return None, False
        return entry.sold_out, age >= self._ttl

    def put(self, sku_id: str, item: Item | None, generation: int) -> None:
        """Remember ``item`` (or its absence) unless it was invalidated since ``generation``."""
        if generation != self.generation(sku_id):
            return
        if len(self._entries) >= self._max and sku_id not in self._entries:
            # Full (perhaps of unknown ids someone made up): forget all but the sold-out flags,
            # which stand between a real opening's flood and the backend.
            self._entries = {k: e for k, e in self._entries.items() if e.sold_out is not None}
        self._entries[sku_id] = _Entry(item, self._clock.monotonic(), generation)

    def mark_sold_out(
        self,
        item: Item,
        replays: ReplayMap,
        generation: int,
        bought: Mapping[str, int] | None = None,
    ) -> None:
        """Flag ``item`` sold out with its complete replay map and per-user units
        (``item.stock`` must be 0)."""
        if item.stock > 0 or generation != self.generation(item.sku_id):
            return
        self.put(item.sku_id, item, generation)
        self._entries[item.sku_id].sold_out = SoldOut(replays, bought or {}, item.limit_per_user)

    def update_stock(self, sku_id: str, stock: int) -> None:
        """Keep a cached item's stock current after a reservation, without refreshing its age."""
        entry = self._entries.get(sku_id)
        if entry is not None and entry.item is not None and entry.sold_out is None:
            item = entry.item
            entry.item = Item(
                item.sku_id,
                item.name,
                item.price_cents,
                stock,
                item.sale_start,
                item.sale_start_ms,
                item.limit_per_user,
            )

    def invalidate(self, sku_id: str) -> None:
        """Forget the item and its sold-out flag (after an admin change)."""
        self._entries.pop(sku_id, None)
        self._generations[sku_id] = self.generation(sku_id) + 1

    def _fresh(self, sku_id: str) -> _Entry | None:
        entry = self._entries.get(sku_id)
        if entry is None:
            return None
        if self._clock.monotonic() - entry.loaded >= self._ttl:
            del self._entries[sku_id]
            return None
        return entry
