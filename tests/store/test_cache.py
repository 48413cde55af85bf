"""The item cache and its sold-out flag, on a manual clock."""

from __future__ import annotations

from sniper.clock import ManualClock
from sniper.store.cache import ItemCache, SoldOut
from sniper.store.models import Item, Order


def _item(stock: int) -> Item:
    return Item("eggs", "eggs", 100, stock, "2024-04-15T07:00:00+08:00", 0, 1)


class TestItemCache:
    """TTL, negative entries, generations and the sold-out flag."""

    def test_entry_expires_after_ttl(self) -> None:
        """Fresh before the TTL, gone at it."""
        clock = ManualClock()
        cache = ItemCache(ttl=1.0, clock=clock)
        cache.put("eggs", _item(3), cache.generation("eggs"))
        clock.advance(0.999)
        assert cache.get("eggs") == (True, _item(3))
        clock.advance(0.001)
        assert cache.get("eggs") == (False, None)

    def test_absence_is_cached(self) -> None:
        """A known-missing item is a hit with None."""
        cache = ItemCache(ttl=1.0, clock=ManualClock())
        cache.put("nope", None, 0)
        assert cache.get("nope") == (True, None)

    def test_stale_generation_is_ignored(self) -> None:
        """A value read before an invalidation must not be stored after it."""
        cache = ItemCache(ttl=1.0, clock=ManualClock())
        generation = cache.generation("eggs")
        cache.invalidate("eggs")
        cache.put("eggs", _item(3), generation)
        assert cache.get("eggs") == (False, None)

    def test_sold_out_flag_holds_replays_until_restock(self) -> None:
        """Flagged with its replay map; an invalidation (restock) clears it."""
        cache = ItemCache(ttl=10.0, clock=ManualClock())
        order = Order("o1", "eggs", 1, "ann", 5, "r1")
        cache.mark_sold_out(_item(0), {("ann", "r1"): order}, cache.generation("eggs"))
        gone, due = cache.sold_out("eggs")
        assert gone is not None
        assert gone.replays[("ann", "r1")] == order
        assert not due
        cache.invalidate("eggs")
        assert cache.sold_out("eggs") == (None, False)

    def test_sold_out_flag_asks_for_reload_after_ttl(self) -> None:
        """Past the TTL the flag still answers but asks to be reloaded; past twice it is gone."""
        clock = ManualClock()
        cache = ItemCache(ttl=1.0, clock=clock)
        empty = SoldOut({}, {}, 1)
        cache.mark_sold_out(_item(0), {}, 0)
        assert cache.sold_out("eggs") == (empty, False)
        clock.advance(1.0)
        assert cache.sold_out("eggs") == (empty, True)
        cache.mark_sold_out(_item(0), {}, 0)  # reloaded: fresh again
        assert cache.sold_out("eggs") == (empty, False)
        clock.advance(2.0)
        assert cache.sold_out("eggs") == (None, False)

    def test_item_with_stock_is_never_flagged(self) -> None:
        """Only a snapshot that shows zero stock switches the fast path on."""
        cache = ItemCache(ttl=1.0, clock=ManualClock())
        cache.mark_sold_out(_item(1), {}, 0)
        assert cache.sold_out("eggs") == (None, False)

    def test_update_stock_keeps_age(self) -> None:
        """A reservation's stock figure refreshes the value but not the entry's age."""
        clock = ManualClock()
        cache = ItemCache(ttl=1.0, clock=clock)
        cache.put("eggs", _item(3), 0)
        clock.advance(0.5)
        cache.update_stock("eggs", 2)
        assert cache.get("eggs") == (True, _item(2))
        clock.advance(0.5)
        assert cache.get("eggs") == (False, None)

    def test_size_is_bounded_but_keeps_sold_out_flags(self) -> None:
        """Past ``max_items`` the cache forgets everything but its sold-out flags: made-up ids
        cannot push a real opening's flood back onto the backend."""
        cache = ItemCache(ttl=10.0, clock=ManualClock(), max_items=3)
        cache.mark_sold_out(_item(0), {}, 0)
        for sku in "abcd":
            cache.put(sku, None, 0)
        assert cache.get("d") == (True, None)
        assert cache.get("a") == (False, None)
        assert cache.sold_out("eggs")[0] is not None
