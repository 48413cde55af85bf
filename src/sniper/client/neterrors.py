"""Network errors for people: one line per kind, with a hint; which kinds are worth waiting out.

Pure: the connection hands in the exception it caught, this module names it. A raw
``[Errno 111] Connect call failed ('127.0.0.1', 8001)`` or ``[SSL: WRONG_VERSION_NUMBER]`` tells
a newcomer nothing; "connection refused: is the server running?" and "use http://" do.
"""

from __future__ import annotations

import enum
import errno
import socket
import ssl


class NetKind(enum.Enum):
    """What went wrong while connecting."""

    REFUSED = "refused"
    NO_SUCH_HOST = "no_such_host"
    DNS_DOWN = "dns_down"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    RESET = "reset"
    NOT_TLS = "not_tls"
    CERTIFICATE = "certificate"
    TLS = "tls"
    OTHER = "other"


#: Kinds that may pass by themselves (a server restarting, a network coming back): a run that
#: starts long before the opening waits them out. The others are mistakes in the task.
TRANSIENT = frozenset({NetKind.REFUSED, NetKind.DNS_DOWN, NetKind.TIMEOUT, NetKind.UNREACHABLE,
                       NetKind.OTHER})

#: Waiting out a transient error: the first pause, the longest, and at most this many tries.
FIRST_RETRY_S, LONGEST_RETRY_S, MAX_RETRIES = 1.0, 60.0, 500


_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
            "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN)

_LINES = {
    NetKind.REFUSED: "{where}: connection refused (nothing listens there: is the server "
                     "running, and is the port right?)",
    NetKind.NO_SUCH_HOST: "cannot find the host {host!r}: no such name (check the host in "
                          "base_url)",
    NetKind.DNS_DOWN: "cannot look up the host {host!r}: no name server answered (is this "
                      "machine online?)",
    NetKind.TIMEOUT: "{where}: no answer within {timeout_s:g} s (the host is down or a firewall "
                     "drops the connection)",
    NetKind.UNREACHABLE: "{where}: network unreachable (is this machine online?)",
    NetKind.RESET: "{where}: the server dropped the connection at once ({reset_hint})",
    NetKind.NOT_TLS: "{where}: the server does not speak TLS on this port ({tls_hint})",
    NetKind.CERTIFICATE: "{where}: its TLS certificate is not trusted ({why}); for a private CA "
                         "give ca_file (or --ca-file)",
    NetKind.TLS: "{where}: TLS handshake failed ({why})",
    NetKind.OTHER: "{where}: {why}",
}


def classify(exc: BaseException) -> NetKind:
    """The kind of a connect-time exception."""
    if isinstance(exc, ssl.SSLError):
        return _classify_tls(exc)
    if isinstance(exc, socket.gaierror):
        return NetKind.DNS_DOWN if exc.errno == socket.EAI_AGAIN else NetKind.NO_SUCH_HOST
    kind = NetKind.OTHER
    if isinstance(exc, ConnectionRefusedError) or _all_refused(exc):
        kind = NetKind.REFUSED
    elif isinstance(exc, TimeoutError):
        kind = NetKind.TIMEOUT
    elif isinstance(exc, ConnectionResetError):
        kind = NetKind.RESET
    elif isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        kind = NetKind.UNREACHABLE
    return kind


def _classify_tls(exc: ssl.SSLError) -> NetKind:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetKind.CERTIFICATE
    reason = getattr(exc, "reason", None) or str(exc)
    return NetKind.NOT_TLS if any(m in reason for m in _NOT_TLS) else NetKind.TLS


def _all_refused(exc: BaseException) -> bool:
    # asyncio joins the failures of every address of a name (localhost: ::1 and 127.0.0.1)
    # into one OSError without an errno.
    text = str(exc)
    return isinstance(exc, OSError) and exc.errno is None and \
        text.startswith("Multiple exceptions") and f"[Errno {errno.ECONNREFUSED}]" in text


def describe(exc: BaseException, *, scheme: str, host: str, port: int, timeout_s: float) -> str:
    """One line saying what failed and what to try."""
    why = (getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
           or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    return _LINES[classify(exc)].format(
        where=f"cannot connect to {host}:{port}", host=host, timeout_s=timeout_s, why=why,
        tls_hint="use http:// instead of https://" if scheme == "https" else "check the URL",
        reset_hint="if it does not speak TLS on this port, use http://" if scheme == "https"
        else "is it the right port?")


def retry_delay_s(tries: int, left_s: float) -> float | None:
    """The pause before try number ``tries + 1`` of a transient error, doubling from
    :data:`FIRST_RETRY_S` up to :data:`LONGEST_RETRY_S`, never past ``left_s``; None when the
    time or the tries are used up."""
    if tries >= MAX_RETRIES or left_s <= 0:
        return None
    return min(FIRST_RETRY_S * 2.0 ** min(tries, 16), LONGEST_RETRY_S, left_s)
