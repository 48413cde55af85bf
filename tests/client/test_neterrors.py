"""Network errors named for people, from real failures where a test can cause them."""

from __future__ import annotations

import errno
import io
import socket
import ssl
from pathlib import Path

import pytest

from sniper.client.connection import Connection, ConnectionBroken, Origin, ssl_context
from sniper.client.console import Console
from sniper.client.neterrors import (
    LONGEST_RETRY_S,
    MAX_RETRIES,
    TRANSIENT,
    NetFailure,
    NetKind,
    classify,
    describe,
    retry_delay_s,
)
from sniper.client.probe import ClockError
from sniper.clock import SystemClock
from sniper.store.process import free_port
from tests.client.fault_server import FaultServer, ok


async def connect(url: str, ca_file: Path | None = None) -> ConnectionBroken:
    """The error of opening a connection to ``url`` (which must fail)."""
    origin = Origin.from_url(url)
    conn = Connection(origin, SystemClock(), ssl_context(origin, ca_file))
    with pytest.raises(ConnectionBroken) as failed:
        await conn.open(5.0)
    return failed.value


class TestRealFailures:
    """Failures caused for real on loopback."""

    async def test_refused(self) -> None:
        """Nobody listens: refused, one line, no errno."""
        port = free_port()
        error = await connect(f"http://127.0.0.1:{port}")
        assert error.kind is NetKind.REFUSED
        assert str(error) == (
            f"cannot connect to 127.0.0.1:{port}: connection refused (nothing "
            "listens there: is the server running, and is the port right?)"
        )

    async def test_https_against_a_server_that_hangs_up(self) -> None:
        """https:// to a plain port whose server drops the TLS hello: says to try http://.
        (A store that answers the hello with an HTTP error: tests/e2e/test_snipe.py.)"""
        async with FaultServer([ok()]) as server:
            error = await connect(server.url.replace("http://", "https://"))
        assert error.kind is NetKind.RESET
        assert "if it does not speak TLS on this port, use http://" in str(error)

    async def test_untrusted_certificate(self) -> None:
        """A certificate from an unknown CA: says why and points at ca_file."""
        import trustme

        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("localhost").configure_cert(server_ctx)
        async with FaultServer([ok()], tls=server_ctx) as server:
            error = await connect(server.url)
        assert error.kind is NetKind.CERTIFICATE
        assert "certificate is not trusted (unable to get local issuer certificate)" in str(error)
        assert "ca_file" in str(error)


def _multi_refused() -> OSError:
    return OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 8001, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 8001)".replace(
            "111", str(errno.ECONNREFUSED)
        )
    )


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
            NetKind.REFUSED,
            "connection refused",
        ),
        (_multi_refused(), NetKind.REFUSED, "connection refused"),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            NetKind.NO_SUCH_HOST,
            "cannot find the host 'shop.example': no such name (check the host in base_url)",
        ),
        (
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            NetKind.DNS_DOWN,
            "no name server answered (is this machine online?)",
        ),
        (TimeoutError(), NetKind.TIMEOUT, "no answer within 5 s"),
        (
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            NetKind.UNREACHABLE,
            "network unreachable",
        ),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            NetKind.NOT_TLS,
            "does not speak TLS on this port (use http:// instead of https://)",
        ),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] alert"),
            NetKind.TLS,
            "TLS handshake failed",
        ),
        (
            ConnectionResetError(errno.ECONNRESET, "reset"),
            NetKind.RESET,
            "dropped the connection at once (if it does not speak TLS on this port, use http://)",
        ),
        (OSError(errno.EPIPE, "Broken pipe"), NetKind.OTHER, "Broken pipe"),
    ],
)
def test_kinds(exc: BaseException, kind: NetKind, says: str) -> None:
    """Each kind of failure: its kind and one line with a hint."""
    assert classify(exc) is kind
    line = describe(exc, scheme="https", host="shop.example", port=443, timeout_s=5.0)
    assert says in line
    assert "\n" not in line
    assert "Errno" not in line


def test_what_is_waited_out() -> None:
    """A server down or a network gone may come back; a wrong name, TLS or certificate not."""
    assert {NetKind.REFUSED, NetKind.TIMEOUT, NetKind.DNS_DOWN, NetKind.UNREACHABLE} <= TRANSIENT
    assert (
        not {NetKind.NO_SUCH_HOST, NetKind.NOT_TLS, NetKind.CERTIFICATE, NetKind.TLS, NetKind.RESET}
        & TRANSIENT
    )


@pytest.mark.parametrize(
    ("tries", "left_s", "delay"),
    [
        (0, 3600.0, 1.0),
        (1, 3600.0, 2.0),
        (5, 3600.0, 32.0),
        (6, 3600.0, LONGEST_RETRY_S),
        (400, 3600.0, LONGEST_RETRY_S),
        (3, 2.5, 2.5),  # never past preheat
        (0, 0.0, None),  # no time left
        (MAX_RETRIES, 3600.0, None),  # bounded in count too
    ],
)
def test_retry_delay(tries: int, left_s: float, delay: float | None) -> None:
    """Doubling pauses, capped, bounded by the time left and by a count."""
    assert retry_delay_s(tries, left_s) == delay


class TestChinese:
    """The same failures, said in the console's language."""

    async def test_refused_in_chinese(self) -> None:
        """A real refusal: the console says it in Chinese; the error itself stays English."""
        port = free_port()
        error = await connect(f"http://127.0.0.1:{port}")
        assert Console("zh", io.StringIO()).detail(error) == (
            f"无法连接 127.0.0.1:{port}:连接被拒绝"
            "(该端口没有服务在监听:服务器是否已启动,端口是否正确?)"
        )
        assert Console("en", io.StringIO()).detail(error) == str(error)

    async def test_through_a_clock_error(self) -> None:
        """A clock measurement that failed to connect repeats the line: translated too."""
        port = free_port()
        error = await connect(f"http://127.0.0.1:{port}")
        clock_error = ClockError(str(error))
        clock_error.__cause__ = error
        assert Console("zh", io.StringIO()).detail(clock_error).startswith("无法连接")

    def test_other_errors_as_they_are(self) -> None:
        """An error with a line of its own is not replaced."""
        assert Console("zh", io.StringIO()).detail(ValueError("x")) == "x"

    @pytest.mark.parametrize("kind", list(NetKind))
    def test_every_kind_has_chinese(self, kind: NetKind) -> None:
        """No kind falls back to English in a Chinese console."""
        failed = NetFailure(kind, "https", "shop.example", 443, 5.0, "why")
        text = failed.text("zh")
        assert text != failed.text("en")
        assert not any(word in text for word in ("cannot", "connection", "answer", "network"))
