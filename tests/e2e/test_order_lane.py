"""The order lane against a real ``sniper serve``: orders answered by the store's HTTP protocol,
before ASGI, get the very answers the app gives; pipelined requests are answered in order;
``Connection: close`` is honoured; a client that does not read its answers is held back.

The app's own answer to the same request is had by sending the body chunked: the lane takes only
bodies of a declared length, so a chunked one goes through ASGI (:class:`HotPath`) as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.e2e.conftest import StartStore
from tests.e2e.crowd import open_item, users
from tests.e2e.store_process import StoreProcess


@dataclass(frozen=True)
class Raw:
    """One answer as it came off the wire."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)

    def json(self) -> dict[str, object]:
        return json.loads(self.body)  # type: ignore[no-any-return]


def order(
    body: bytes, token: str | None = None, *, chunked: bool = False, close: bool = False
) -> bytes:
    """``POST /api/orders`` as bytes, its body of a declared length or chunked."""
    head = [b"POST /api/orders HTTP/1.1", b"Host: store", b"Content-Type: application/json"]
    if token is not None:
        head.append(b"Cookie: session=" + token.encode())
    if close:
        head.append(b"Connection: close")
    if chunked:
        head.append(b"Transfer-Encoding: chunked")
        payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        head.append(b"Content-Length: %d" % len(body))
        payload = body
    return b"\r\n".join(head) + b"\r\n\r\n" + payload


HEALTH = b"GET /healthz HTTP/1.1\r\nHost: store\r\n\r\n"


async def read_answer(reader: asyncio.StreamReader) -> Raw:
    """One response: status line, headers, a body of ``content-length`` bytes."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = tuple(
        (name.strip().lower(), value.strip())
        for name, value in (line.split(b":", 1) for line in lines[1:])
    )
    length = int(next(value for name, value in headers if name == b"content-length"))
    return Raw(status, headers, await reader.readexactly(length))


async def exchange(port: int, data: bytes, answers: int) -> list[Raw]:
    """Send ``data`` in one write on a new connection; read ``answers`` answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return [await asyncio.wait_for(read_answer(reader), 10) for _ in range(answers)]
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _comparable(raw: Raw) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    """The answer minus the ``Date`` header's value (it may tick between the two)."""
    assert re.fullmatch(rb"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", raw.header(b"date") or b"")
    return raw.status, tuple(h for h in raw.headers if h[0] != b"date"), raw.body


_DURATION = r'http_request_duration_seconds_(sum|count)\{method="POST",route="([^"]+)"\} (\S+)'


def _durations(store: StoreProcess) -> dict[str, tuple[float, float]]:
    """By route, the POST requests' seconds in all and their count, from ``/metrics``."""
    found: dict[str, dict[str, float]] = {}
    for line in store.admin("GET", "/metrics").text.splitlines():
        match = re.fullmatch(_DURATION, line)
        if match:
            found.setdefault(match[2], {})[match[1]] = float(match[3])
    return {route: (seen["sum"], seen["count"]) for route, seen in found.items()}


BURST = 10


async def open_shop(
    start_store: StartStore, *, user_rate: str = "0", cache_ttl: str = "1"
) -> tuple[StoreProcess, list[str]]:
    """A store with every kind of item an opening meets, and 400 users with sessions; user 0
    bought the one unit of ``gone``, which is known sold out by now (and user 0 at its limit).
    With ``user_rate``, each user may send :data:`BURST` orders at once."""
    args = ("--user-rate", user_rate, "--user-burst", str(BURST), "--cache-ttl", cache_ttl)
    store = start_store(args=args)
    open_item(store, "gone", stock=1)
    open_item(store, "later", stock=5, opens_in_s=3600)
    open_item(store, "eggs", stock=1000, limit=1000)
    tokens = [token for _, token in users(store, 400)]
    first = await exchange(store.port, order(b'{"sku_id":"gone","request_id":"r-1"}', tokens[0]), 1)
    assert first[0].status == 201
    await asyncio.sleep(0.3)  # the sold-out flag is loaded in the background
    return store, tokens


class TestSameAnswers:
    """Each request, sent once to the lane and once through the app, is answered alike."""

    async def test_refusals_replays_and_bad_input(self, start_store: StartStore) -> None:
        store, tokens = await open_shop(start_store, user_rate="0.001")
        await exchange(store.port, order(b'{"sku_id":"later"}', tokens[1]) * BURST, BURST)
        cases = [
            # (body, which user's token or a literal token, expected status)
            (b'{"sku_id":"gone"}', 2, 409),  # sold out
            (b'{"sku_id":"gone"}', 0, 409),  # at the limit: limit_reached
            (b'{"sku_id":"gone","request_id":"r-1"}', 0, 200),  # replayed from memory
            (b'{"sku_id":"later"}', 3, 425),  # not started
            (b'{"sku_id":"nope"}', 4, 404),  # no such item
            (b'{"sku_id":"later"}', 1, 429),  # the user's burst spent (user 0's is, after)
            (b'{"sku_id":"gone"', 5, 400),  # malformed JSON
            (b'{"sku_id":7}', 6, 400),  # a wrong type
            (b'{"sku_id":"gone","sku_id":"x"}', 7, 400),  # a key twice
            (b'{"sku_id":"gone"}', None, 401),  # no session cookie
            (b'{"sku_id":"gone"}', "forged", 401),  # a forged session
        ]
        for body, who, status in cases:
            token = tokens[who] if isinstance(who, int) else who
            # Each variant twice: a session or item read from storage the first time is known
            # in memory the second, and the answers must agree either way.
            lane = await exchange(store.port, order(body, token) * 2, 2)
            app = await exchange(store.port, order(body, token, chunked=True) * 2, 2)
            for answer in (*lane, *app):
                assert answer.status == status, (body, who, answer)
            assert {_comparable(a) for a in lane} == {_comparable(a) for a in app}, (body, who)
        limited = await exchange(store.port, order(b'{"sku_id":"gone"}', tokens[0]), 1)
        assert limited[0].json()["error"] == "limit_reached"
        assert limited[0].header(b"server") == b"uvicorn"

    async def test_each_refusal_carries_its_own_second(self, start_store: StartStore) -> None:
        """The lane writes refusals from a cache of their bytes: each still has the ``Date`` of
        the second it was answered in."""
        store, tokens = await open_shop(start_store)
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
        seen: list[tuple[float, float]] = []
        try:
            for _ in range(3):
                writer.write(order(b'{"sku_id":"gone"}', tokens[20]))
                answer = await asyncio.wait_for(read_answer(reader), 10)
                assert answer.status == 409
                date = parsedate_to_datetime((answer.header(b"date") or b"").decode())
                seen.append((date.timestamp(), time.time()))
                await asyncio.sleep(1.1)
        finally:
            writer.close()
        assert len({stamp for stamp, _ in seen}) == 3
        assert all(-0.5 < now - stamp < 1.5 for stamp, now in seen)

    async def test_a_length_written_in_thousands_of_digits(self, start_store: StartStore) -> None:
        """``Content-Length: 000…017`` is 17 to the parser, and to the store: answered as any
        order (Python reads no number of over 4,300 digits, which once made this a 500)."""
        store, tokens = await open_shop(start_store)
        body = b'{"sku_id":"gone"}'
        plain = order(body, tokens[13])
        padded = plain.replace(
            b"Content-Length: %d" % len(body), b"Content-Length: " + b"0" * 5000 + b"%d" % len(body)
        )
        assert padded != plain
        [lane] = await exchange(store.port, padded, 1)
        [app] = await exchange(store.port, order(body, tokens[13], chunked=True), 1)
        assert lane.status == 409
        assert _comparable(lane) == _comparable(app)

    async def test_orders_placed_both_ways_alike(self, start_store: StartStore) -> None:
        store, tokens = await open_shop(start_store)
        lane = await exchange(store.port, order(b'{"sku_id":"eggs"}', tokens[10]), 1)
        app = await exchange(store.port, order(b'{"sku_id":"eggs"}', tokens[11], chunked=True), 1)
        assert [lane[0].status, app[0].status] == [201, 201]
        assert lane[0].json().keys() == app[0].json().keys()
        assert [name for name, _ in lane[0].headers] == [name for name, _ in app[0].headers]
        # Resent with its request id: replayed by the backend, 200, the same order.
        again = order(b'{"sku_id":"eggs","request_id":"again"}', tokens[12])
        first, second = await exchange(store.port, again * 2, 2)
        assert [first.status, second.status] == [201, 200]
        assert first.json()["order_id"] == second.json()["order_id"]

    async def test_orders_in_other_forms_are_answered_alike(self, start_store: StartStore) -> None:
        """The lane takes ``POST /api/orders`` as clients send it; a query string or an absolute
        URL goes through the app, and is answered the same; so is HTTP/1.0 (then closed)."""
        store, tokens = await open_shop(start_store)
        plain = order(b'{"sku_id":"gone"}', tokens[14])
        [lane] = await exchange(store.port, plain, 1)
        forms = {
            b"query": plain.replace(b"/api/orders ", b"/api/orders?from=app ", 1),
            b"absolute": plain.replace(b"/api/orders ", b"http://store/api/orders ", 1),
            b"1.0": plain.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        }
        for form, data in forms.items():
            assert data != plain
            reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
            try:
                writer.write(data)
                answer = await asyncio.wait_for(read_answer(reader), 10)
                rest = await asyncio.wait_for(reader.read(), 10) if form == b"1.0" else None
            finally:
                writer.close()
            if form == b"1.0":
                assert answer.header(b"connection") == b"close"
                assert rest == b""  # the store closed it
                answer = Raw(answer.status, answer.headers[:-1], answer.body)
            assert _comparable(answer) == _comparable(lane), form


class TestConnections:
    async def test_pipelined_requests_are_answered_in_order(self, start_store: StartStore) -> None:
        """Answers known at once queue behind an order that waits for the storage, and behind
        a request only the app answers: every one in the order asked."""
        store, tokens = await open_shop(start_store)
        gone = order(b'{"sku_id":"gone"}', tokens[20])
        eggs = order(b'{"sku_id":"eggs"}', tokens[21])
        later = order(b'{"sku_id":"later"}', tokens[22])
        burst = [gone, eggs, gone, later, HEALTH, gone, eggs, later, gone] * 30
        answers = await exchange(store.port, b"".join(burst), len(burst))
        expected = [409, 201, 409, 425, 200, 409, 201, 425, 409] * 30
        assert [a.status for a in answers] == expected

    async def test_a_head_begun_behind_a_lane_answer_has_its_deadline(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An order answered at once, and in the same write the first bytes of another request
        that never comes in full: the connection is closed at the header deadline (the lane's
        answer armed the keep-alive timer, and the next request's first byte stopped it)."""
        monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
        store, tokens = await open_shop(start_store)
        for tail in (b"P", b"POST /api/orders HTTP/1.1\r\nHost: st"):
            reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
            try:
                writer.write(order(b'{"sku_id":"gone"}', tokens[32]) + tail)
                assert (await asyncio.wait_for(read_answer(reader), 10)).status == 409
                # A head that began gets a 408 with its deadline; the bound here is generous.
                rest = await asyncio.wait_for(reader.read(), 8)
                assert rest == b"" or rest.startswith(b"HTTP/1.1 408 "), rest
            finally:
                writer.close()

    async def test_a_head_begun_behind_any_answer_is_answered_408_at_its_deadline(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A request answered in the lane at once, one answered from the lane's task, one the
        app answers: in the same write, the first bytes of another request that never comes in
        full. Each connection hears 408 at the header deadline, not the keep-alive's silent
        close (which the answers from a task used to arm, leaving the head untimed)."""
        monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
        store, tokens = await open_shop(start_store)
        await exchange(store.port, order(b'{"sku_id":"gone"}', tokens[36]), 1)  # session cached
        firsts = {
            "lane, at once": (order(b'{"sku_id":"gone"}', tokens[36]), 409),
            "lane, from a task": (order(b'{"sku_id":"eggs"}', tokens[37]), 201),
            "the app": (HEALTH, 200),
        }
        for how, (first, status) in firsts.items():
            reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
            try:
                writer.write(first + b"POST /api/orders HTTP/1.1\r\nHost: st")
                assert (await asyncio.wait_for(read_answer(reader), 10)).status == status, how
                answered = time.monotonic()
                rest = await asyncio.wait_for(reader.read(), 8)
                assert rest.startswith(b"HTTP/1.1 408 "), (how, rest)
                # Within a generous bound of the 1 s deadline, before the keep-alive's 5 s.
                assert time.monotonic() - answered < 4, how
            finally:
                writer.close()

    async def test_a_head_begun_with_a_body_that_came_later_has_its_deadline(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same, the order's head and its body in two writes, the next request's first
        bytes behind the body: closed at the header deadline too, not held open for ever."""
        monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
        store, tokens = await open_shop(start_store)
        whole = order(b'{"sku_id":"gone"}', tokens[33])
        head, body = whole.split(b"\r\n\r\n", 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
        try:
            writer.write(head + b"\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.write(body + b"GET /healthz HTTP/1.1\r\nHost: st")
            assert (await asyncio.wait_for(read_answer(reader), 10)).status == 409
            rest = await asyncio.wait_for(reader.read(), 8)
            assert rest == b"" or rest.startswith(b"HTTP/1.1 408 "), rest
        finally:
            writer.close()

    async def test_connection_close_is_honoured(self, start_store: StartStore) -> None:
        store, tokens = await open_shop(start_store)
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
        try:
            writer.write(order(b'{"sku_id":"gone"}', tokens[30], close=True))
            answer = await asyncio.wait_for(read_answer(reader), 10)
            assert answer.status == 409
            assert answer.header(b"connection") == b"close"
            assert await asyncio.wait_for(reader.read(), 10) == b""  # the store closed it
        finally:
            writer.close()

    async def test_nothing_is_placed_after_the_last_answer(self, start_store: StartStore) -> None:
        """Two orders in one write, the first HTTP/1.0 (which the store answers and closes, even
        asked to keep the connection): the second, whose answer nobody could hear, is not
        placed."""
        store, tokens = await open_shop(start_store)
        first = order(b'{"sku_id":"eggs","request_id":"said"}', tokens[34]).replace(
            b"HTTP/1.1\r\n", b"HTTP/1.0\r\nConnection: keep-alive\r\n", 1
        )
        second = order(b'{"sku_id":"eggs","request_id":"unheard"}', tokens[34])
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
        try:
            writer.write(first + second)
            answer = await asyncio.wait_for(read_answer(reader), 10)
            assert answer.status == 201
            assert await asyncio.wait_for(reader.read(), 10) == b""
        finally:
            writer.close()
        said = answer.json()
        placed = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
        assert [each["order_id"] for each in placed if each["user"] == said["user"]] == [
            said["order_id"]
        ]

    async def test_an_order_is_timed_from_its_turn(self, start_store: StartStore) -> None:
        """A refusal pipelined behind a slow request (3,000 users made): its observed duration
        is its own, not the slow request's too, in the lane as through the app."""
        store, tokens = await open_shop(start_store, cache_ttl="60")
        await exchange(store.port, order(b'{"sku_id":"gone"}', tokens[35]), 1)  # session cached
        body = b'{"count": 3000}'
        slow = (
            b"POST /admin/users HTTP/1.1\r\nHost: store\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (ADMIN_TOKEN.encode(), len(body), body)
        )
        for chunked in (False, True):
            before = _durations(store)
            refusal = order(b'{"sku_id":"gone"}', tokens[35], chunked=chunked)
            answers = await exchange(store.port, slow + refusal, 2)
            assert [a.status for a in answers] == [201, 409]
            after = _durations(store)
            orders, users = (
                (after[route][0] - before[route][0], after[route][1] - before[route][1])
                for route in ("/api/orders", "/admin/users")
            )
            assert orders[1] == users[1] == 1
            assert orders[0] < users[0] / 4, (chunked, orders, users)

    async def test_a_client_that_does_not_read_is_held_back(self, start_store: StartStore) -> None:
        """Sold-out orders pipelined without reading a single answer: once the answers fill
        the buffers, the store stops reading (as it does for the app's answers) rather than
        keep every answer in memory. Read at last, every answer is there. (Sessions are
        trusted for a minute, so that every one of these is answered in the lane.)"""
        store, tokens = await open_shop(start_store, cache_ttl="60")
        count = 100_000  # 17 MB of requests, as much in answers: more than the buffers hold
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)  # we read nothing yet
        sock.connect(("127.0.0.1", store.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            writer.write(order(b'{"sku_id":"gone"}', tokens[31]) * count)
            unsent = [writer.transport.get_write_buffer_size()]
            for _ in range(60):  # until the store stops reading, or has read it all
                await asyncio.sleep(0.5)
                unsent.append(writer.transport.get_write_buffer_size())
                if unsent[-1] == 0 or unsent[-1] == unsent[-2] == unsent[-3]:
                    break
            assert unsent[-1] > 0, "the store read every request without its answers read"
            statuses: dict[int, int] = {}
            for _ in range(count):
                answer = await asyncio.wait_for(read_answer(reader), 30)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            assert statuses == {409: count}
        finally:
            writer.close()
