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
from dataclasses import dataclass


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
TRANSIENT = frozenset(
    {NetKind.REFUSED, NetKind.DNS_DOWN, NetKind.TIMEOUT, NetKind.UNREACHABLE, NetKind.OTHER}
)

#: Waiting out a transient error: the first pause, the longest, and at most this many tries.
FIRST_RETRY_S, LONGEST_RETRY_S, MAX_RETRIES = 1.0, 60.0, 500


_NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "UNKNOWN_PROTOCOL",
)
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN)

#: One line per kind, in each console language (as the console's MESSAGES); ``why`` is the
#: system's own words.
_LINES: dict[str, dict[NetKind, str]] = {
    "en": {
        NetKind.REFUSED: "{where}: connection refused (nothing listens there: is the server "
        "running, and is the port right?)",
        NetKind.NO_SUCH_HOST: "cannot find the host {host!r}: no such name (check the host in "
        "base_url)",
        NetKind.DNS_DOWN: "cannot look up the host {host!r}: no name server answered (is this "
        "machine online?)",
        NetKind.TIMEOUT: "{where}: no answer within {timeout_s:g} s (the host is down or a "
        "firewall drops the connection)",
        NetKind.UNREACHABLE: "{where}: network unreachable (is this machine online?)",
        NetKind.RESET: "{where}: the server dropped the connection at once ({reset_hint})",
        NetKind.NOT_TLS: "{where}: the server does not speak TLS on this port ({tls_hint})",
        NetKind.CERTIFICATE: "{where}: its TLS certificate is not trusted ({why}); for a private "
        "CA give ca_file (or --ca-file)",
        NetKind.TLS: "{where}: TLS handshake failed ({why})",
        NetKind.OTHER: "{where}: {why}",
    },
    "zh": {
        NetKind.REFUSED: "{where}:连接被拒绝(该端口没有服务在监听:服务器是否已启动,端口是否正确?)",
        NetKind.NO_SUCH_HOST: "找不到主机 {host!r}:没有这个名字(请检查 base_url 中的主机名)",
        NetKind.DNS_DOWN: "无法解析主机 {host!r}:没有域名服务器应答(本机是否联网?)",
        NetKind.TIMEOUT: "{where}:{timeout_s:g} 秒内无应答(主机已关闭,或防火墙丢弃了连接)",
        NetKind.UNREACHABLE: "{where}:网络不可达(本机是否联网?)",
        NetKind.RESET: "{where}:服务器立即断开了连接({reset_hint})",
        NetKind.NOT_TLS: "{where}:服务器在此端口不使用 TLS({tls_hint})",
        NetKind.CERTIFICATE: "{where}:TLS 证书不受信任({why});私有 CA 请设置 ca_file(或 --ca-file)",
        NetKind.TLS: "{where}:TLS 握手失败({why})",
        NetKind.OTHER: "{where}:{why}",
    },
}

#: The parts the lines share, per language.
_PARTS: dict[str, dict[str, str]] = {
    "en": {
        "where": "cannot connect to {host}:{port}",
        "tls_https": "use http:// instead of https://",
        "tls_http": "check the URL",
        "reset_https": "if it does not speak TLS on this port, use http://",
        "reset_http": "is it the right port?",
    },
    "zh": {
        "where": "无法连接 {host}:{port}",
        "tls_https": "请把 https:// 改为 http://",
        "tls_http": "请检查 URL",
        "reset_https": "如果它在此端口不使用 TLS,请改用 http://",
        "reset_http": "端口是否正确?",
    },
}


@dataclass(frozen=True, slots=True)
class NetFailure:
    """A connect-time failure, kept so that it can be said in any console language."""

    kind: NetKind
    scheme: str
    host: str
    port: int
    timeout_s: float
    why: str

    def text(self, lang: str = "en") -> str:
        """One line saying what failed and what to try, in ``lang`` (English if unknown)."""
        lang = lang if lang in _LINES else "en"
        parts = _PARTS[lang]
        https = self.scheme == "https"
        return _LINES[lang][self.kind].format(
            where=parts["where"].format(host=self.host, port=self.port),
            host=self.host,
            timeout_s=self.timeout_s,
            why=self.why,
            tls_hint=parts["tls_https" if https else "tls_http"],
            reset_hint=parts["reset_https" if https else "reset_http"],
        )


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
    return (
        isinstance(exc, OSError)
        and exc.errno is None
        and text.startswith("Multiple exceptions")
        and f"[Errno {errno.ECONNREFUSED}]" in text
    )


def failure(
    exc: BaseException, *, scheme: str, host: str, port: int, timeout_s: float
) -> NetFailure:
    """What failed, kept for :meth:`NetFailure.text`."""
    why = (
        getattr(exc, "verify_message", None)
        or getattr(exc, "reason", None)
        or getattr(exc, "strerror", None)
        or str(exc)
        or type(exc).__name__
    )
    return NetFailure(classify(exc), scheme, host, port, timeout_s, str(why))


def describe(
    exc: BaseException, *, scheme: str, host: str, port: int, timeout_s: float, lang: str = "en"
) -> str:
    """One line saying what failed and what to try."""
    return failure(exc, scheme=scheme, host=host, port=port, timeout_s=timeout_s).text(lang)


def retry_delay_s(tries: int, left_s: float) -> float | None:
    """The pause before try number ``tries + 1`` of a transient error, doubling from
    :data:`FIRST_RETRY_S` up to :data:`LONGEST_RETRY_S`, never past ``left_s``; None when the
    time or the tries are used up."""
    if tries >= MAX_RETRIES or left_s <= 0:
        return None
    return min(FIRST_RETRY_S * 2.0 ** min(tries, 16), LONGEST_RETRY_S, left_s)
