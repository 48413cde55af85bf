"""The ``Cookie`` header curl makes from a Netscape cookie file (``curl -b FILE``). Pure.

curl's own rules: a cookie goes to a host its domain matches (the whole host, or a subdomain
when the file says so), to a path under its own, to https only when marked secure (curl counts
``localhost``, ``127.0.0.1`` and ``[::1]`` as secure too); an expired one is not sent; the sent
ones go longest path first, then longest domain, then longest name, then the file's last first
(curl's newest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sniper.errors import ConfigError

_HTTP_ONLY = "#HttpOnly_"
_SECURE_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class _Cookie:
    domain: str
    subdomains: bool
    path: str
    secure: bool
    expires: int
    name: str
    value: str


def _parse(text: str, where: str) -> list[_Cookie]:
    cookies = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\r\n")
        if line.startswith(_HTTP_ONLY):
            line = line[len(_HTTP_ONLY) :]
        elif line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 7 or not fields[4].lstrip("-").isdigit():
            raise ConfigError(
                f"{where}: line {number} is not a Netscape cookie line (7 fields between tabs: "
                "domain, subdomains, path, secure, expiry, name, value); import-curl reads "
                "only that form of cookie file"
            )
        domain, subdomains, path, secure, expires, name, value = fields
        cookies.append(
            _Cookie(
                domain.lstrip(".").lower(),
                subdomains.upper() == "TRUE",
                path,
                secure.upper() == "TRUE",
                int(expires),
                name,
                value,
            )
        )
    return cookies


def _path_matches(cookie_path: str, path: str) -> bool:
    base = cookie_path.rstrip("/") or "/"
    if base == "/":
        return True
    return path == base or path.startswith(base + "/")


def _sent(cookie: _Cookie, host: str, path: str, secure: bool, now: float) -> bool:
    if cookie.expires and cookie.expires < now:
        return False
    if cookie.secure and not secure:
        return False
    domain_ok = host == cookie.domain or (cookie.subdomains and host.endswith("." + cookie.domain))
    return domain_ok and _path_matches(cookie.path, path)


def cookie_header(text: str, url: str, *, now: float, where: str) -> str:
    """The ``Cookie`` value curl sends to ``url`` from a Netscape cookie file's ``text`` at
    ``now`` (epoch seconds); empty when none matches. ``where`` names the file in errors."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or host in _SECURE_HOSTS
    cookies = _parse(text, where)
    chosen = [
        (-len(c.path), -len(c.domain), -len(c.name), -index, c)
        for index, c in enumerate(cookies)
        if _sent(c, host, parts.path or "/", secure, now)
    ]
    return "; ".join(f"{c.name}={c.value}" for *_, c in sorted(chosen, key=lambda e: e[:4]))
