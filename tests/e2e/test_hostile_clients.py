"""Hostile clients against a real ``sniper serve``: slow bodies, endless headers, silence,
oversized headers, more connections than the store may hold, and SIGTERM among them all."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import httpx
import pytest

from tests.e2e.conftest import StartStore
from tests.e2e.crowd import open_item, users
from tests.e2e.hostile import SILENT, SLOW_BODY, SLOW_HEAD, Crowd, raise_fd_limit, status_of
from tests.e2e.store_process import StoreProcess


@pytest.fixture(autouse=True)
def _files() -> None:
    """Hundreds of sockets in this process too."""
    raise_fd_limit(4096)


def _requests(metrics: str, status: int) -> float:
    """``http_requests_total`` of ``POST /api/orders`` with ``status`` (0 when absent)."""
    labels = f'method="POST",route="/api/orders",status="{status}"'
    found = re.search(r"http_requests_total\{" + labels + r"\} (\S+)", metrics)
    return float(found.group(1)) if found else 0.0


async def _order(client: httpx.AsyncClient, token: str) -> tuple[int, float]:
    start = time.monotonic()
    response = await client.post(
        "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={token}"}
    )
    return response.status_code, time.monotonic() - start


def _shop(store: StoreProcess, buyers: int) -> list[str]:
    open_item(store, "eggs", stock=buyers // 2)
    return [token for _, token in users(store, buyers)]


class TestSlowClients:
    """Connections that never finish their request hold neither a slot nor a file for long."""

    async def test_slow_bodies_hold_no_admission_slot(self, start_store: StartStore) -> None:
        """300 orders and 100 logins whose bodies never end, against 50 admission slots:
        health, metrics and real orders are still answered."""
        store = start_store(args=("--max-inflight", "50"))
        tokens = _shop(store, 20)
        crowd = Crowd(store.port)
        login = b"POST /api/login HTTP/1.1\r\nHost: store\r\nContent-Length: 100\r\n\r\n{"
        try:
            await crowd.hold(300, SLOW_BODY)
            await crowd.hold(100, login)
            await asyncio.sleep(0.5)  # every one of them has reached the app by now
            async with httpx.AsyncClient(base_url=store.url, timeout=10) as client:
                assert (await client.get("/healthz")).status_code == 200
                assert (await client.get("/metrics")).status_code == 200
                answers = [await _order(client, token) for token in tokens]
            assert {status for status, _ in answers} <= {201, 409}
            assert max(elapsed for _, elapsed in answers) < 2.0
            assert crowd.open_count() == 400
        finally:
            await crowd.aclose()

    @pytest.mark.parametrize("workers", [1, 2])
    async def test_body_timeout_answers_408(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch, workers: int
    ) -> None:
        """A body still unfinished after the body timeout gets 408 and a closed connection,
        counted as 499 (the client never sent its request), never as 413."""
        monkeypatch.setenv("SNIPER_BODY_TIMEOUT_S", "1")
        store = start_store(workers=workers)
        crowd = Crowd(store.port)
        try:
            held = await crowd.hold(20, SLOW_BODY)
            assert await crowd.until_closed(held, limit_s=10)
            assert {status_of(h.answer) for h in held} == {408}
            assert all(0.8 < h.closed - h.opened < 8 for h in held if h.closed)
            assert b'"error":"timeout"' in held[0].answer
            async with httpx.AsyncClient(base_url=store.url) as client:
                metrics = (await client.get("/metrics")).text
            assert _requests(metrics, 499) == 20
            assert _requests(metrics, 413) == 0
        finally:
            await crowd.aclose()

    async def test_client_gone_before_its_body_is_499(self, start_store: StartStore) -> None:
        """A client that leaves halfway through its body is counted as 499, not 413."""
        store = start_store()
        crowd = Crowd(store.port)
        await crowd.hold(5, SLOW_BODY)
        await asyncio.sleep(0.3)
        await crowd.aclose()
        async with httpx.AsyncClient(base_url=store.url) as client:
            for _ in range(100):  # the server notices the closes within a few loop turns
                metrics = (await client.get("/metrics")).text
                if _requests(metrics, 499) == 5:
                    break
                await asyncio.sleep(0.05)
        assert _requests(metrics, 499) == 5
        assert _requests(metrics, 413) == 0

    async def test_header_timeout_closes_unfinished_and_silent(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Headers that never end get 408; a connection that never speaks is closed quietly;
        both within the header timeout."""
        monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
        store = start_store()
        crowd = Crowd(store.port)
        try:
            partial = await crowd.hold(100, SLOW_HEAD)
            silent = await crowd.hold(100, SILENT)
            assert await crowd.until_closed(partial + silent, limit_s=10)
            assert {status_of(h.answer) for h in partial} == {408}
            assert {h.answer for h in silent} == {b""}
            assert all(h.closed is not None and h.closed - h.opened < 8 for h in partial + silent)
            async with httpx.AsyncClient(base_url=store.url) as client:
                assert (await client.get("/healthz")).status_code == 200
        finally:
            await crowd.aclose()


class TestIdleConnections:
    async def test_keep_alive_counts_from_the_last_answer_and_a_deadline_cuts_in(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A kept-alive connection closes the keep-alive time (uvicorn's 5 s) after its last
        answer, an order from the lane's or another; a request begun on it meanwhile gets its
        own, shorter header deadline (408), though the connection's one timer was set later."""
        monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
        store = start_store()
        [token] = _shop(store, 2)[:1]
        order = (
            b"POST /api/orders HTTP/1.1\r\nHost: store\r\nCookie: session=%s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
            b'{"sku_id":"nil"}' % token.encode()
        )
        health = b"GET /healthz HTTP/1.1\r\nHost: store\r\n\r\n"

        async def answer(reader: asyncio.StreamReader) -> float:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            return time.monotonic()

        async def closed(reader: asyncio.StreamReader) -> tuple[float, bytes]:
            rest = await reader.read()
            return time.monotonic(), rest

        async with asyncio.timeout(20):
            (again_r, again_w), (once_r, once_w), (late_r, late_w) = [
                await asyncio.open_connection("127.0.0.1", store.port) for _ in range(3)
            ]
            for writer in (again_w, once_w, late_w):
                writer.write(order)
            for reader in (again_r, once_r, late_r):
                await answer(reader)  # 404, from the lane: no such item
            await asyncio.sleep(1.5)  # past the first request's deadline: its timer has fired
            late_w.write(SLOW_HEAD)
            late_begun = time.monotonic()
            await asyncio.sleep(1.5)
            again_w.write(health)
            last = await answer(again_r)
            (late_at, late_answer), (once_at, _), (again_at, _) = await asyncio.gather(
                closed(late_r), closed(once_r), closed(again_r)
            )
        assert status_of(late_answer) == 408
        assert 0.8 < late_at - late_begun < 2.5
        assert late_at < once_at < again_at
        assert 4.5 < again_at - last < 7.5
        for writer in (again_w, once_w, late_w):
            writer.close()


class TestClientsThatLeave:
    async def test_pipelined_requests_cut_off_leave_a_clean_log(
        self, start_store: StartStore
    ) -> None:
        """Three orders pipelined on each of 200 connections, cut off (RST) a moment later,
        while the first is still with the storage: nothing is written to the closed connection,
        so no traceback in the log, and the store goes on answering."""
        store = start_store()
        tokens = _shop(store, 50)
        body = b'{"sku_id":"eggs"}'

        async def cut_off(n: int) -> None:
            _, writer = await asyncio.open_connection("127.0.0.1", store.port)
            head = (
                b"POST /api/orders HTTP/1.1\r\nHost: store\r\nContent-Type: application/json\r\n"
                b"Cookie: session=%s\r\nTransfer-Encoding: chunked\r\n\r\n"
                % tokens[n % 50].encode()
            )
            writer.write((head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) * 3)
            await asyncio.sleep(0.001)
            writer.transport.abort()

        await asyncio.gather(*(cut_off(n) for n in range(200)))
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=store.url, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200
        log = store.log()
        assert "Traceback" not in log, log[-2000:]


class TestHeaderCap:
    """The request line and headers are capped while they arrive, before they are parsed."""

    async def test_oversized_header_is_431_without_stalling(self, start_store: StartStore) -> None:
        """A 100 MB header line is answered 431 long before its end, and an order sent
        meanwhile is answered at once."""
        store = start_store()
        tokens = _shop(store, 2)
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)

        async def send_big() -> None:
            sent = 0
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: store\r\nX-Big: ")
            chunk = b"a" * 65_536
            with contextlib.suppress(ConnectionError):  # cut off after the answer
                while sent < 100_000_000:
                    writer.write(chunk)
                    await writer.drain()
                    sent += len(chunk)

        sender = asyncio.create_task(send_big())
        try:
            async with httpx.AsyncClient(base_url=store.url, timeout=10) as client:
                await asyncio.sleep(0.05)
                status, elapsed = await _order(client, tokens[0])
            first = await asyncio.wait_for(reader.read(200), 10)
        finally:
            sender.cancel()
            writer.transport.abort()
        assert status_of(first) == 431, first
        assert status == 201
        assert elapsed < 2.0

    async def test_a_head_after_a_413_is_capped(self, start_store: StartStore) -> None:
        """An order answered 413 before its body; the body comes all the same, then a next
        request with a 1 MB header: capped as any head (431), not parsed whole."""
        store = start_store()
        reader, writer = await asyncio.open_connection("127.0.0.1", store.port)
        try:
            body = b"x" * 5000  # over the 4,096-byte limit
            writer.write(
                b"POST /api/orders HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert status_of(head) == 413
            await asyncio.wait_for(reader.readuntil(b"}"), 10)
            writer.write(body)
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(
                b"GET /healthz HTTP/1.1\r\nHost: s\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
            assert status_of(answer) == 431, answer
        finally:
            writer.close()

    def test_headers_under_the_cap_are_served(self, start_store: StartStore) -> None:
        """12 KiB of headers (under the 16 KiB default) is an ordinary request."""
        store = start_store()
        response = httpx.get(f"{store.url}/healthz", headers={"X-Pad": "p" * 12_000})
        assert response.status_code == 200
        response = httpx.get(f"{store.url}/healthz", headers={"X-Pad": "p" * 17_000})
        assert response.status_code == 431
        assert response.json()["error"] == "too_large"


class TestConnectionBound:
    """Past the connection bound the oldest idle or unfinished connection makes room."""

    async def test_oldest_unfinished_closed_first_real_client_served(
        self, start_store: StartStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With room for 200 connections, 300 unfinished ones: the first 100 or so are closed,
        the newest stay, and a real client's orders and slow logins are answered."""
        monkeypatch.setenv("SNIPER_MAX_CONNECTIONS", "200")
        store = start_store()
        tokens = _shop(store, 10)
        created = store.admin("POST", "/admin/users", json={"user": "ann", "password": "pw-1"})
        assert created.status_code == 201
        crowd = Crowd(store.port)
        try:
            first = await crowd.hold(100, SLOW_BODY, batch=50)
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=store.url, timeout=10) as client:
                # Logins are slow (scrypt): being answered, they must not be the ones closed.
                logins = [
                    asyncio.create_task(
                        client.post("/api/login", json={"user": "ann", "password": "pw-1"})
                    )
                    for _ in range(4)
                ]
                rest = await crowd.hold(200, SLOW_HEAD, batch=50)
                assert await crowd.until_closed(first, limit_s=10)
                answers = [await _order(client, token) for token in tokens]
                assert [r.status_code for r in await asyncio.gather(*logins)] == [200] * 4
            assert {status for status, _ in answers} <= {201, 409}
            assert sum(1 for h in rest if h.closed is None) >= 150
            assert all(status_of(h.answer) is None for h in first)  # closed, not answered
        finally:
            await crowd.aclose()


class TestShutdown:
    """SIGTERM among slow clients is prompt and quiet."""

    @pytest.mark.parametrize("workers", [1, 2])
    async def test_sigterm_with_slow_clients(self, start_store: StartStore, workers: int) -> None:
        """200 slow bodies, 200 endless headers and slow logins in flight: SIGTERM ends the
        process in a few seconds, exit 0, logins answered, no traceback."""
        store = start_store(workers=workers)
        created = store.admin("POST", "/admin/users", json={"user": "ann", "password": "pw-1"})
        assert created.status_code == 201
        crowd = Crowd(store.port)
        try:
            await crowd.hold(200, SLOW_BODY)
            await crowd.hold(200, SLOW_HEAD)
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=store.url, timeout=30) as client:
                logins = [
                    asyncio.create_task(
                        client.post("/api/login", json={"user": "ann", "password": "pw-1"})
                    )
                    for _ in range(4)
                ]
                await asyncio.sleep(0.1)
                start = time.monotonic()
                code = await asyncio.to_thread(store.terminate)
                elapsed = time.monotonic() - start
                answers = await asyncio.gather(*logins)
        finally:
            await crowd.aclose()
        assert code == 0
        assert [a.status_code for a in answers] == [200] * 4
        assert elapsed < 5.0
        log = store.log()
        assert "Traceback" not in log, log[-2000:]
        assert "CancelledError" not in log
