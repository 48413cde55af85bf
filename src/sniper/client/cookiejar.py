"""One task's cookies, kept as a browser keeps them (the standard library's ``http.cookiejar``).

The task's own cookie goes to every URL of the task: it is the user's captured login, the task
file names each URL it visits, and a copied header does not say the domain and path it was for.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import cookiejar
from http.client import HTTPResponse
from typing import Any, cast
from urllib.parse import urlsplit

#: Browsers keep a few thousand in all but about 180 per site; one task talks to one shop.
MAX_COOKIES = 200
#: A cookie's name and value together, in bytes (RFC 6265 section 6.1; browsers refuse more).
MAX_COOKIE_BYTES = 4096
#: A Set-Cookie line longer than this is not even parsed: it could never hold a cookie we keep.
MAX_SET_COOKIE_CHARS = 2 * MAX_COOKIE_BYTES
# Control characters other than tab: a browser ignores a Set-Cookie holding one.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_MAX_AGE = re.compile("-?[0-9]+")
_Key = tuple[str, str, str]
#: Cookie headers kept ready, by URL (a flow has a few URLs).
_CACHED_HEADERS = 64


class _TaskNow:
    """The ``_now`` that ``http.cookiejar`` reads for expiry and ``Max-Age``: the task's clock.

    The library assigns ``_now = int(time.time())`` at the start of each operation; that
    assignment is ignored and each read asks the owner's ``task_clock`` instead, so that expiry
    depends on the ``now`` the jar was given and nothing else.
    """

    def __get__(self, owner: Any, owner_type: type | None = None) -> int:
        return int(owner.task_clock())

    def __set__(self, owner: Any, system_time: int) -> None:
        """Ignored: see the class docstring."""


class _Policy(cookiejar.DefaultCookiePolicy):
    """The library's browser rules, with host-only cookies and IP addresses as RFC 6265 has them."""

    _now = _TaskNow()

    def __init__(self, task_clock: Callable[[], float]) -> None:
        self.task_clock = task_clock
        super().__init__(
            rfc2965=False,
            # Refuses Domain=co.uk, com.cn and the like (the library's short list, no full PSL).
            strict_domain=True,
            # A cookie set without Domain goes back to that very host only.
            strict_ns_domain=cookiejar.DefaultCookiePolicy.DomainStrictNonDomain,
        )

    def set_ok_domain(self, cookie: cookiejar.Cookie, request: urllib.request.Request) -> bool:
        """The library's check, and: an IP address domain-matches only itself (RFC 6265 5.1.3),
        so ``Domain=0.0.1`` from ``127.0.0.1`` is refused."""
        if not super().set_ok_domain(cookie, request):
            return False
        host = _host(request)
        return not (cookie.domain_specified and _is_ip(host) and cookie.domain.lstrip(".") != host)

    def return_ok_domain(self, cookie: cookiejar.Cookie, request: urllib.request.Request) -> bool:
        """The library's check, and: ``Domain=localhost`` goes back to ``localhost`` (the library
        compares a one-label host as ``localhost.local`` and would never send it)."""
        return super().return_ok_domain(cookie, request) or (
            cookie.domain_specified and cookie.domain.lstrip(".") == _host(request)
        )


class _Store(cookiejar.CookieJar):
    """The library's jar on the task's clock, judging the deletions that expired Set-Cookies ask
    for like any cookie, and remembering each cookie's creation order."""

    _now = _TaskNow()

    def __init__(self, policy: _Policy) -> None:
        super().__init__(policy)
        self.policy = policy
        self.task_clock = policy.task_clock
        #: The request whose answer is being read (deletions are judged against it).
        self.answering: urllib.request.Request | None = None
        #: Names deleted by expired Set-Cookies of that answer.
        self.deleted: list[str] = []
        self.created: dict[_Key, int] = {}
        self._serial = 0

    def set_cookie(self, cookie: cookiejar.Cookie) -> None:
        """Store ``cookie``; a replaced cookie keeps its place (RFC 6265 5.3 step 11)."""
        key = (cookie.domain, cookie.path, cookie.name)
        if key not in self.created:
            self._serial += 1
            self.created[key] = self._serial
        super().set_cookie(cookie)

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:
        """As the library's; while an answer is read, a deletion is first judged like a cookie
        (a Set-Cookie for a foreign Domain deletes nothing)."""
        if name is not None and domain is not None and path is not None:
            if self.answering is not None:
                probe = _probe(name, domain, path)
                if not self.policy.set_ok(probe, self.answering):
                    return
                self.deleted.append(name)
            self.created.pop((domain, path, name), None)
        super().clear(domain, path, name)

    def clear_expired_cookies(self) -> None:
        """Drop the cookies expired by the task's clock (the library's reads the system's)."""
        now = int(self.task_clock())
        for cookie in [c for c in self if c.is_expired(now)]:
            self.clear(cookie.domain, cookie.path, cookie.name)


@dataclass(frozen=True, slots=True)
class _SeedPair:
    """One piece of the task's cookie, sent back exactly as given."""

    name: str | None  # None for a piece without "=" (curl sends it as it is)
    value: str
    text: str


class _Answer:
    """All of a response that ``CookieJar.make_cookies`` reads: ``info().get_all``."""

    def __init__(self, set_cookie: str) -> None:
        self.set_cookie = set_cookie

    def info(self) -> _Answer:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        return [self.set_cookie] if name.lower() == "set-cookie" else default


class CookieJar:
    """One task's cookies: the task's own cookie, then every Set-Cookie the shop answers."""

    def __init__(self, seed: str, *, now: Callable[[], float] = time.time) -> None:
        """``seed``: the task's Cookie header value as the user gave it (``a=1; b=2``), or ""."""
        self._seed = _parse_seed(seed)
        #: The seed as given, sent byte for byte while no Set-Cookie has replaced a pair of it
        #: (a captured request's own separators: curl's ``-b a=1 -b b=2`` sends ``a=1;b=2``).
        self._seed_text: str | None = seed.strip().rstrip(";").strip()
        self._policy = _Policy(now)
        self._headers: dict[str, tuple[str, float]] = {}
        self._store = _Store(self._policy)

    def __repr__(self) -> str:
        return f"<CookieJar seed={len(self._seed)} stored={len(self._store)}>"

    def header(self, url: str) -> str:
        """The Cookie header value for a request to the absolute ``url`` ("" when none): the seed's
        pairs, then the stored cookies that match the URL, longer paths first."""
        # Kept until the jar changes or a cookie in it expires: the next step's request is
        # built without walking the jar again.
        now = self._policy.task_clock()
        cached = self._headers.get(url)
        if cached is not None and now < cached[1]:
            return cached[0]
        seed = [self._seed_text] if self._seed_text else [pair.text for pair in self._seed]
        pieces = seed + [f"{c.name}={c.value}" for c in self._sent(_request(url))]
        text = "; ".join(piece for piece in pieces if piece)
        if len(self._headers) >= _CACHED_HEADERS:
            self._headers.clear()
        expiries = (c.expires for c in self._store if c.expires is not None)
        self._headers[url] = (text, min(expiries, default=math.inf))
        return text

    def value(self, name: str, url: str) -> str | None:
        """The value of the cookie ``name`` that ``header(url)`` would send (None: none)."""
        for pair in self._seed:
            if pair.name == name:
                return pair.value
        for cookie in self._sent(_request(url)):
            if cookie.name == name:
                return cookie.value
        return None

    def names(self) -> list[str]:
        """The names of the cookies held, seed first; never their values (nor a nameless seed
        piece, whose text is a value)."""
        self._store.clear_expired_cookies()
        named = [p.name for p in self._seed if p.name is not None]
        return list(dict.fromkeys([*named, *(c.name for c in self._ordered(self._store))]))

    def values(self) -> list[str]:
        """Every value held, for the log's redaction only: never to be shown."""
        self._store.clear_expired_cookies()
        return [p.value for p in self._seed] + [c.value or "" for c in self._store]

    def update(self, url: str, headers: Sequence[tuple[str, str]]) -> None:
        """Take every ``set-cookie`` header of an answer to a request to ``url``.

        A malformed or oversized Set-Cookie is ignored; an expired one deletes the cookie and
        the seed's pairs of that name; one of a seed pair's name replaces that pair.
        """
        lines = [line for name, line in headers if name == "set-cookie"]
        if not lines:  # most answers: nothing to do on the way to the next step
            return
        self._headers.clear()
        request = _request(url)
        for line in lines:
            if _well_formed(line):
                self._take(_without_ignored_attributes(line), request)

    def _take(self, line: str, request: urllib.request.Request) -> None:
        store = self._store
        store.answering, store.deleted = request, []
        try:
            # The library reads only info().get_all() of the response it is given.
            cookies = store.make_cookies(cast(HTTPResponse, _Answer(line)), request)
        finally:
            store.answering = None
        replaced = set(store.deleted)
        for cookie in cookies:
            if self._keeps(cookie, request):
                store.set_cookie(cookie)
                replaced.add(cookie.name)
        self._forget_seed(replaced)

    def _keeps(self, cookie: cookiejar.Cookie, request: urllib.request.Request) -> bool:
        if len(cookie.name.encode()) + len((cookie.value or "").encode()) > MAX_COOKIE_BYTES:
            return False
        if not self._policy.set_ok(cookie, request):
            return False
        if self._holds(cookie):
            return True
        self._store.clear_expired_cookies()
        return len(self._store) < MAX_COOKIES

    def _holds(self, cookie: cookiejar.Cookie) -> bool:
        return (cookie.domain, cookie.path, cookie.name) in self._store.created

    def _forget_seed(self, names: set[str]) -> None:
        if any(p.name in names for p in self._seed):
            self._seed = [p for p in self._seed if p.name not in names]
            self._seed_text = None

    def _sent(self, request: urllib.request.Request) -> list[cookiejar.Cookie]:
        """The stored cookies a browser would send with ``request``, in RFC 6265 order.

        Once the expired are gone, the library's verdict on a cookie depends on its ``_shape``
        alone; it parses the URL afresh for each cookie, so each shape is judged once (a shop's
        thirty cookies share a few shapes, and this is on the way to the order's send).
        """
        self._store.clear_expired_cookies()
        policy = self._policy
        verdicts: dict[tuple[object, ...], bool] = {}
        sent = []
        for cookie in self._store:
            shape = _shape(cookie)
            if shape not in verdicts:
                verdicts[shape] = (
                    policy.domain_return_ok(cookie.domain, request)
                    and policy.path_return_ok(cookie.path, request)
                    and policy.return_ok(cookie, request)
                )
            if verdicts[shape]:
                sent.append(cookie)
        return self._ordered(sent)

    def _ordered(self, cookies: Iterable[cookiejar.Cookie]) -> list[cookiejar.Cookie]:
        """Longer paths first, then the earlier created (RFC 6265 5.4 step 2)."""
        created = self._store.created
        return sorted(cookies, key=lambda c: (-len(c.path), created[(c.domain, c.path, c.name)]))


def _shape(cookie: cookiejar.Cookie) -> tuple[object, ...]:
    """What the library's checks of a cookie read, but for its expiry (its version is always 0
    and its port None here; a domain that starts with a dot is one a Set-Cookie named, one
    without is its host's: a host-only cookie)."""
    return (cookie.domain, cookie.path, cookie.secure)


def _parse_seed(seed: str) -> list[_SeedPair]:
    pairs = []
    for piece in seed.split(";"):
        text = piece.strip()
        if not text:
            continue
        name, eq, value = text.partition("=")
        if eq and name.strip():
            pairs.append(_SeedPair(name.strip(), value.strip(), text))
        else:
            pairs.append(_SeedPair(None, text, text))
    return pairs


def _well_formed(line: str) -> bool:
    """A name=value first (RFC 6265 5.2 ignores the line otherwise), no control character, only
    ASCII (a cookie's octets, RFC 6265 4.1.1: another character could not go back in a Cookie
    header), and not so long that it could not hold a cookie we would keep."""
    if len(line) > MAX_SET_COOKIE_CHARS or _CONTROL.search(line) or not line.isascii():
        return False
    name, eq, _ = line.partition(";")[0].partition("=")
    return bool(eq and name.strip())


def _without_ignored_attributes(line: str) -> str:
    """``line`` without the attributes RFC 6265 5.2 ignores and the library would hold against
    the whole cookie: a ``Path`` not starting with "/" (the default path applies), an empty
    ``Domain`` (host-only), a ``Max-Age`` that is not an integer, and RFC 2965's ``Port`` (which
    browsers never knew)."""
    first, *attributes = line.split(";")
    kept = [first]
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        key, value = key.strip().lower(), value.strip()
        if (
            (key == "path" and not value.startswith("/"))
            or (key == "domain" and value in ("", "."))
            or (key == "max-age" and not _MAX_AGE.fullmatch(value))
            or key == "port"
        ):
            continue
        kept.append(attribute)
    return ";".join(kept)


def _request(url: str) -> urllib.request.Request:
    """The library's request shape for ``url``; the error names no URL (it may hold a token)."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("cookie jar: not an absolute http(s) URL") from None
    return urllib.request.Request(url)  # noqa: S310 - http(s) checked above; never opened


def _host(request: urllib.request.Request) -> str:
    return urlsplit(request.full_url).hostname or ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _probe(name: str, domain: str, path: str) -> cookiejar.Cookie:
    """A stand-in cookie to judge a deletion by: the library's ``clear`` hands over only its key
    (its domain starts with a dot when the Set-Cookie named one)."""
    return cookiejar.Cookie(
        version=0,
        name=name,
        value="",
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=path,
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )
