"""One contract, run against every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.errors import ConfigError
from sniper.store.backends import Backend, SqliteBackend, backend_from_settings
from sniper.store.models import Item, NewUser, Session
from sniper.store.rules import Outcome, Reservation
from sniper.store.settings import StoreSettings
from tests.conftest import T0_MS
from tests.store_backends import every_backend


def _item(sku: str = "eggs", stock: int = 3, limit: int = 1, start: int = T0_MS) -> Item:
    return Item(sku, sku, 100, stock, "2023-11-14T22:13:20+00:00", start, limit)


@pytest.fixture
async def backend(settings: StoreSettings, clock: ManualClock) -> AsyncIterator[Backend]:
    """An opened backend of the kind ``settings`` names, built as the store builds it."""
    made = backend_from_settings(settings, clock)
    await made.open()
    try:
        yield made
    finally:
        await made.aclose()


@every_backend
class TestReserve:
    """The atomic step."""

    async def test_outcomes_in_order(self, backend: Backend, clock: ManualClock) -> None:
        """not_found, not_started, created, replayed, limit_reached, sold_out."""
        await backend.put_item(_item(stock=1, start=T0_MS + 10))
        r = Reservation("ann", "eggs", 1, "r1")
        assert (await backend.reserve(Reservation("ann", "nope", 1))).outcome is Outcome.NOT_FOUND
        assert (await backend.reserve(r)).outcome is Outcome.NOT_STARTED
        clock.advance(0.010)
        created = await backend.reserve(r)
        assert (created.outcome, created.stock_left) == (Outcome.CREATED, 0)
        assert created.order is not None
        assert created.order.created_ms == T0_MS + 10
        replayed = await backend.reserve(r)
        assert (replayed.outcome, replayed.order) == (Outcome.REPLAYED, created.order)
        again = await backend.reserve(Reservation("ann", "eggs", 1, "r2"))
        assert again.outcome is Outcome.LIMIT_REACHED
        bob = await backend.reserve(Reservation("bob", "eggs", 1))
        assert bob.outcome is Outcome.SOLD_OUT

    async def test_concurrent_reservations_never_oversell(self, backend: Backend) -> None:
        """300 users at once for 50 units: exactly 50 orders, 50 users, stock 0."""
        await backend.put_item(_item(stock=50))
        results = await asyncio.gather(
            *(backend.reserve(Reservation(f"u{i}", "eggs", 1)) for i in range(300))
        )
        created = [r.order for r in results if r.outcome is Outcome.CREATED]
        assert len(created) == 50
        assert sum(r.outcome is Outcome.SOLD_OUT for r in results) == 250
        assert len({o.user for o in created if o}) == 50
        item = await backend.get_item("eggs")
        assert item is not None
        assert item.stock == 0
        assert len(await backend.list_orders("eggs")) == 50

    async def test_concurrent_replays_make_one_order(self, backend: Backend) -> None:
        """50 copies of one request_id: one order, every answer carries it."""
        await backend.put_item(_item(stock=10))
        results = await asyncio.gather(
            *(backend.reserve(Reservation("ann", "eggs", 1, "same")) for _ in range(50))
        )
        orders = {r.order for r in results}
        assert len(orders) == 1
        assert sorted(r.outcome.value for r in results) == ["created"] + ["replayed"] * 49
        assert len(await backend.list_orders(None)) == 1

    async def test_a_crowd_on_three_items_at_once_keeps_every_rule(self, backend: Backend) -> None:
        """Interleaved at once: two units at a time against a limit of three (a second pair is
        past it), one unit at a time of another item, and an item whose sale has not opened.
        Each item's stock is taken exactly, no user past the limit, the upcoming one untouched."""
        await backend.put_item(_item("pairs", stock=10, limit=3))
        await backend.put_item(_item("ones", stock=5))
        await backend.put_item(_item("later", stock=5, start=T0_MS + 60_000))
        crowd = [
            Reservation(f"u{n}", sku, qty, f"{sku}-{k}")
            for n in range(20)
            for sku, qty, k in (("pairs", 2, 1), ("ones", 1, 1), ("pairs", 2, 2), ("later", 1, 1))
        ]
        results = await asyncio.gather(*(backend.reserve(r) for r in crowd))
        by_item: dict[str, list[Outcome]] = {}
        for req, res in zip(crowd, results, strict=True):
            by_item.setdefault(req.sku_id, []).append(res.outcome)
        assert by_item["pairs"].count(Outcome.CREATED) == 5
        assert by_item["ones"].count(Outcome.CREATED) == 5
        assert set(by_item["later"]) == {Outcome.NOT_STARTED}
        pairs = await backend.list_orders("pairs")
        assert sum(o.qty for o in pairs) == 10
        assert len({o.user for o in pairs}) == 5  # a second pair is always past the limit
        assert by_item["pairs"].count(Outcome.LIMIT_REACHED) >= 5
        assert set(by_item["pairs"]) <= {Outcome.CREATED, Outcome.LIMIT_REACHED, Outcome.SOLD_OUT}
        stock = {sku: getattr(await backend.get_item(sku), "stock", None) for sku in by_item}
        assert stock == {"pairs": 0, "ones": 0, "later": 5}
        assert await backend.list_orders("later") == []

    async def test_a_request_id_is_scoped_to_its_item(self, backend: Backend) -> None:
        """The same request id for another item is another order (and a replay of each stays
        with its own item)."""
        await backend.put_item(_item("eggs", stock=2))
        await backend.put_item(_item("milk", stock=2))
        eggs = await backend.reserve(Reservation("ann", "eggs", 1, "r1"))
        milk = await backend.reserve(Reservation("ann", "milk", 1, "r1"))
        assert (eggs.outcome, milk.outcome) == (Outcome.CREATED, Outcome.CREATED)
        assert eggs.order is not None
        assert milk.order is not None
        assert (await backend.reserve(Reservation("ann", "milk", 1, "r1"))).order == milk.order
        assert (await backend.reserve(Reservation("ann", "eggs", 1, "r1"))).order == eggs.order
        assert (
            await backend.reserve(Reservation("bob", "eggs", 1, "r1"))
        ).outcome is Outcome.CREATED  # another user's key


@every_backend
class TestRecords:
    """Items, sessions, users and orders."""

    async def test_patch_changes_only_named_fields(self, backend: Backend) -> None:
        """stock 0 is a value; unnamed fields stay."""
        await backend.put_item(_item(stock=3, limit=2))
        patched = await backend.patch_item("eggs", {"stock": 0})
        assert patched == _item(stock=0, limit=2)
        assert await backend.patch_item("nope", {"stock": 1}) is None

    async def test_put_replaces(self, backend: Backend) -> None:
        """PUT is create-or-replace."""
        await backend.put_item(_item(stock=3))
        await backend.put_item(_item(stock=9))
        assert await backend.get_item("eggs") == _item(stock=9)

    async def test_users_and_sessions(self, backend: Backend) -> None:
        """Users with sessions; password hashes; extra sessions."""
        await backend.create_users(
            [
                NewUser("ann", "hash-a", Session("ann", "t-ann", T0_MS + 5)),
                NewUser("bob", None, Session("bob", "t-bob", T0_MS + 5)),
            ]
        )
        assert await backend.password_hash("ann") == "hash-a"
        assert await backend.password_hash("bob") is None
        assert await backend.password_hash("cyd") is None
        await backend.create_session(Session("ann", "t-ann-2", T0_MS + 9))
        assert await backend.get_session("t-ann-2") == Session("ann", "t-ann-2", T0_MS + 9)
        assert await backend.get_session("t-nope") is None

    async def test_revocations(self, backend: Backend, clock: ManualClock) -> None:
        """Logout, admin revoke and a replaced user delete sessions and log the live ones in
        order; a log read from a cursor gives only what came after it."""
        start = await backend.revocation_cursor()
        await backend.create_users(
            [
                NewUser("ann", "hash-a", Session("ann", "t-a1", T0_MS + 50)),
                NewUser("bob", "hash-b", Session("bob", "t-b1", T0_MS + 50)),
            ]
        )
        assert await backend.create_session(
            Session("ann", "t-a2", T0_MS + 50), password_hash="hash-a"
        )
        assert await backend.create_session(Session("ann", "t-old", T0_MS - 1))  # expired
        assert await backend.revoke_session("t-a1")
        assert not await backend.revoke_session("t-a1")
        assert await backend.get_session("t-a1") is None
        cursor, revoked = await backend.revoked_since(start)
        assert revoked == ["t-a1"]
        assert sorted(await backend.revoke_sessions("ann")) == ["t-a2"]  # live ones only
        assert await backend.get_session("t-a2") is None
        assert await backend.get_session("t-old") is None
        assert await backend.revoke_sessions("ann") == []
        # Replacing bob revokes his sessions; his new first session is live.
        assert await backend.create_users(
            [NewUser("bob", "hash-b2", Session("bob", "t-b2", T0_MS + 50))]
        ) == ["t-b1"]
        assert await backend.get_session("t-b1") is None
        assert await backend.password_hash("bob") == "hash-b2"
        assert await backend.get_session("t-b2") == Session("bob", "t-b2", T0_MS + 50)
        later, revoked = await backend.revoked_since(cursor)
        assert revoked == ["t-a2", "t-b1"]
        assert await backend.revoked_since(later) == (later, [])
        assert (await backend.revoked_since(""))[1] == ["t-a1", "t-a2", "t-b1"]
        assert await backend.revocation_cursor() == later

    async def test_a_login_checked_against_a_replaced_password_adds_no_session(
        self, backend: Backend
    ) -> None:
        """The session of a login whose password check came before a replacement is refused,
        and a rehash does not overwrite a replacement either."""
        await backend.create_users([NewUser("ann", "hash-1", Session("ann", "t-1", T0_MS + 50))])
        await backend.create_users([NewUser("ann", "hash-2", Session("ann", "t-2", T0_MS + 50))])
        assert not await backend.create_session(
            Session("ann", "t-late", T0_MS + 50), password_hash="hash-1"
        )
        assert await backend.get_session("t-late") is None
        assert not await backend.replace_password_hash("ann", "hash-1", "hash-1-stronger")
        assert await backend.replace_password_hash("ann", "hash-2", "hash-2-stronger")
        assert await backend.password_hash("ann") == "hash-2-stronger"
        assert await backend.get_session("t-2") is not None  # a rehash revokes nothing

    async def test_orders_sorted_and_snapshot(self, backend: Backend, clock: ManualClock) -> None:
        """Orders list in time order; the sold-out snapshot holds replayable orders."""
        await backend.put_item(_item(stock=2, limit=1))
        first = await backend.reserve(Reservation("ann", "eggs", 1, "ra"))
        clock.advance(0.001)
        second = await backend.reserve(Reservation("bob", "eggs", 1))
        listed = await backend.list_orders("eggs")
        assert listed == [first.order, second.order]
        assert first.order is not None
        assert await backend.get_order(first.order.order_id) == first.order
        item, replays, bought = await backend.sold_out_snapshot("eggs")
        assert item is not None
        assert item.stock == 0
        assert replays == {("ann", "ra"): first.order}
        assert bought == {"ann": 1, "bob": 1}
        assert await backend.list_orders("eggs", user="bob") == [second.order]

    async def test_catalog_creates_only_missing_items(self, backend: Backend) -> None:
        """A catalog never touches an item that exists (its live stock stays)."""
        await backend.put_item(_item("eggs", stock=1))
        catalog = [_item("eggs", stock=50), _item("milk", stock=7)]
        assert await backend.load_catalog(catalog) == 1
        assert await backend.get_item("eggs") == _item("eggs", stock=1)
        assert await backend.get_item("milk") == _item("milk", stock=7)
        assert await backend.load_catalog(catalog) == 0

    async def test_check(self, backend: Backend) -> None:
        """An open backend passes its health check."""
        await backend.check()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x", "unknown scheme"),
        ("sqlite:///:memory:", "not :memory:"),
        ("sqlite://relative", "not sqlite"),
        ("sqlite:///", "not sqlite"),
        ("redis://127.0.0.1", "needs a host and a port"),
        ("redis+cluster://:secret@:6379", "needs a host and a port"),
        ("redis://127.0.0.1:99999/0", "not a valid Redis URL"),
        ("redis://:se/cret@127.0.0.1:6379/0", "not a valid Redis URL"),
        ("redis://:secret@127.0.0.1:notaport/0", "not a valid Redis URL"),
        ("redis+cluster://:secret@127.0.0.1:7000/3", "only database 0"),
        ("redis://:secret@127.0.0.1:6379/0x", "the database is a number"),
        ("redis://:secret@127.0.0.1:6379/0?socket_timeout=abc", "in the URL's options"),
        ("redis+cluster://:secret@127.0.0.1:7000?db=1", "in the URL's options"),
    ],
)
def test_backend_url_errors(url: str, message: str) -> None:
    """A store URL that names no usable backend is a ConfigError naming ``store``."""
    with pytest.raises(ConfigError, match=message) as caught:
        backend_from_settings(StoreSettings(store=url), ManualClock())
    assert "secret" not in str(caught.value)


async def test_a_failing_job_fails_alone(tmp_path: Path, clock: ManualClock) -> None:
    """A job that raises (any exception) gets an error; the jobs batched with it still commit."""
    from sniper.errors import Unavailable

    backend = SqliteBackend(tmp_path / "jobs.db", clock)
    await backend.open()
    try:
        await backend.put_item(_item(stock=5))

        def broken(_: object) -> None:
            raise ZeroDivisionError

        results = await asyncio.gather(
            backend.reserve(Reservation("ann", "eggs", 1)),
            backend._writer.submit(broken),
            backend.reserve(Reservation("bob", "eggs", 1)),
            return_exceptions=True,
        )
        assert isinstance(results[1], Unavailable)
        assert [r.outcome for r in (results[0], results[2])] == [Outcome.CREATED] * 2  # type: ignore[union-attr]
        assert len(await backend.list_orders("eggs")) == 2
    finally:
        await backend.aclose()
