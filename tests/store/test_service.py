"""The service speaks the store's domain: an order placed or replayed (never an HTTP status),
and everything the routes need about sessions and orders asked of the service itself."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sniper.clock import ManualClock
from sniper.errors import NotFound, NotStarted, RateLimited, SoldOut, Unauthorized
from sniper.store.rules import Outcome, Reservation, ReservationResult
from sniper.store.schemas import OrderBody
from sniper.store.service import Placed, StoreService
from sniper.store.settings import StoreSettings
from tests.conftest import ADMIN, T0_MS, in_process
from tests.store.helpers import make_users, put_item

Store = tuple[httpx.AsyncClient, StoreService]


class TestPlaceOrder:
    async def test_new_then_replayed(self, store: Store) -> None:
        """A new order is placed (not replayed); its request id again gives the same order,
        replayed."""
        client, service = store
        await put_item(client, "s1", stock=5, start_ms=T0_MS)
        [(user, token)] = await make_users(client, 1)
        first = await service.place_order(token, OrderBody(sku_id="s1", request_id="r-1"))
        again = await service.place_order(token, OrderBody(sku_id="s1", request_id="r-1"))
        assert first == Placed(first.order, replayed=False)
        assert first.order.user == user
        assert again == Placed(first.order, replayed=True)

    async def test_replayed_from_the_sold_out_cache(self, store: Store) -> None:
        """Once the item is sold out, a replay is answered from memory, still as a replay."""
        client, service = store
        await put_item(client, "s1", stock=1, start_ms=T0_MS)
        [(_, token), (_, other)] = await make_users(client, 2)
        placed = await service.place_order(token, OrderBody(sku_id="s1", request_id="r-1"))
        for _ in range(200):  # the sold-out snapshot loads in the background
            if service.cache.sold_out("s1")[0] is not None:
                break
            await asyncio.sleep(0.005)
        with pytest.raises(SoldOut):
            await service.place_order(other, OrderBody(sku_id="s1"))
        again = await service.place_order(token, OrderBody(sku_id="s1", request_id="r-1"))
        assert again == Placed(placed.order, replayed=True)
        assert 'store_orders_total{path="cache",result="replayed"} 1.0' in (
            service.metrics.render().decode()
        )

    async def test_a_request_id_made_here_is_marked_fresh(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An order without a request id gets one made by the store, marked fresh (no earlier
        order can hold it: a backend may skip the replay lookup); the client's own id is not
        fresh. Retried with the id the store made (as after ``outcome_unknown``), it replays."""
        client, service = store
        await put_item(client, "s1", stock=5, start_ms=T0_MS)
        [(_, token)] = await make_users(client, 1)
        seen: list[Reservation] = []
        reserve = service.backend.reserve

        async def recording(request: Reservation) -> ReservationResult:
            seen.append(request)
            return await reserve(request)

        monkeypatch.setattr(service.backend, "reserve", recording)
        placed = await service.place_order(token, OrderBody(sku_id="s1"))
        made = seen[0].request_id
        assert made
        assert seen[0].fresh_id
        again = await service.place_order(token, OrderBody(sku_id="s1", request_id=made))
        assert not seen[1].fresh_id
        assert again == Placed(placed.order, replayed=True)


async def _sold_out_known(service: StoreService, sku: str) -> None:
    for _ in range(200):  # the sold-out snapshot loads in the background
        if service.cache.sold_out(sku)[0] is not None:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{sku} never known sold out")


class TestAnswerNow:
    """``answer_now``: what ``place_order`` would answer, when memory alone knows it (the HTTP
    protocol writes it at once), a refusal as its outcome; None, nothing changed, when only
    ``place_order`` can tell."""

    async def test_answers_what_memory_knows_and_takes_tokens_only_then(
        self, settings: StoreSettings, clock: ManualClock
    ) -> None:
        tight = settings.model_copy(update={"user_rate_per_s": 0.001, "user_burst": 3})
        async with in_process(tight, clock) as (client, service):
            await put_item(client, "gone", stock=1, start_ms=T0_MS)
            await put_item(client, "later", stock=1, start_ms=T0_MS + 60_000)
            [(_, buyer), (_, other)] = await make_users(client, 2)
            mine = OrderBody(sku_id="gone", request_id="r-1")
            assert service.answer_now(buyer, mine) is None  # the revocation log not read yet
            await service.sessions.user_for(buyer)
            assert service.answer_now(buyer, mine) is None  # the item not known yet
            placed = await service.place_order(buyer, mine)  # the buyer's first token
            await _sold_out_known(service, "gone")
            second = service.answer_now(buyer, OrderBody(sku_id="gone"))
            assert second is Outcome.LIMIT_REACHED
            assert service.answer_now(buyer, mine) == Placed(placed.order, replayed=True)  # third
            with pytest.raises(RateLimited):
                service.answer_now(buyer, mine)
            assert service.answer_now(other, OrderBody(sku_id="gone")) is Outcome.SOLD_OUT
            assert service.answer_now(other, OrderBody(sku_id="later")) is None
            with pytest.raises(NotStarted):
                await service.place_order(other, OrderBody(sku_id="later"))  # now cached
            assert service.answer_now(other, OrderBody(sku_id="later")) is Outcome.NOT_STARTED
            with pytest.raises(Unauthorized):
                service.answer_now(None, OrderBody(sku_id="gone"))
            assert service.answer_now("never-issued", OrderBody(sku_id="gone")) is None


class TestWhatTheRoutesAsk:
    def test_check_admin(self, store: Store) -> None:
        """The admin token passes; another, or none, is refused."""
        _, service = store
        service.check_admin(ADMIN["Authorization"])
        for wrong in ("Bearer nope", None):
            with pytest.raises(Unauthorized):
                service.check_admin(wrong)

    async def test_sessions(self, store: Store) -> None:
        """A session resolves to its user until logged out; the cookie lifetime is the
        session's, in whole seconds."""
        client, service = store
        [(user, token)] = await make_users(client, 1)
        assert service.session_ttl_s == 86_400
        assert await service.user_for(token) == user
        assert await service.logout(token) == user
        with pytest.raises(Unauthorized):
            await service.user_for(token)

    async def test_revoke_sessions(self, store: Store) -> None:
        """Revoking a user's sessions says how many were live and ends them."""
        client, service = store
        [(user, token)] = await make_users(client, 1)
        assert await service.revoke_sessions(user) == 1
        assert await service.revoke_sessions(user) == 0
        with pytest.raises(Unauthorized):
            await service.user_for(token)

    async def test_list_orders(self, store: Store) -> None:
        """The admin's view: every user's orders, of one item or all."""
        client, service = store
        await put_item(client, "s1", stock=5, start_ms=T0_MS)
        await put_item(client, "s2", stock=5, start_ms=T0_MS)
        [(_, ann), (_, bob)] = await make_users(client, 2)
        a = await service.place_order(ann, OrderBody(sku_id="s1"))
        b = await service.place_order(bob, OrderBody(sku_id="s2"))
        assert {o.order_id for o in await service.list_orders(None)} == {
            a.order.order_id,
            b.order.order_id,
        }
        assert [o.order_id for o in await service.list_orders("s2")] == [b.order.order_id]

    async def test_get_order_is_the_owners(self, store: Store) -> None:
        """Another user's order is not found."""
        client, service = store
        await put_item(client, "s1", stock=5, start_ms=T0_MS)
        [(_, ann), (_, bob)] = await make_users(client, 2)
        placed = await service.place_order(ann, OrderBody(sku_id="s1"))
        assert await service.get_order(ann, placed.order.order_id) == placed.order
        with pytest.raises(NotFound):
            await service.get_order(bob, placed.order.order_id)
