"""``sniper login``: a store's session cookie, from a user name and a password."""

from __future__ import annotations

import json
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from sniper.client.connection import Connection, HttpCall, Origin, ssl_context
from sniper.clock import Clock, SystemClock
from sniper.errors import SniperError

#: The store's session cookie.
SESSION = "session"


class LoginFailed(SniperError):
    """The store did not log us in; ``exit_code`` is 4 for a refused password, else 1."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def session_cookie(set_cookies: list[str]) -> str | None:
    """The ``Cookie`` value (``session=TOKEN``) that ``Set-Cookie`` headers give, or None."""
    for header in set_cookies:
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        if SESSION in jar and jar[SESSION].value:
            return f"{SESSION}={jar[SESSION].value}"
    return None


async def login(url: str, user: str, password: str, *, ca_file: Path | None = None,
                timeout_s: float = 10.0, clock: Clock | None = None) -> str:
    """``POST /api/login`` on the store at ``url``; the cookie to send (``session=TOKEN``)."""
    origin = Origin.from_url(url)
    conn = Connection(origin, clock or SystemClock(), ssl_context(origin, ca_file))
    body = json.dumps({"user": user, "password": password}).encode()
    call = HttpCall("POST", "/api/login", (("Content-Type", "application/json"),
                                           ("Accept", "application/json")), body)
    try:
        await conn.open(timeout_s)
        response = await conn.request(call, timeout_s)
    finally:
        await conn.aclose()
    if response.status == 401:
        raise LoginFailed(f"login: {origin.host_header} refused user {user!r} and this "
                          "password", exit_code=4)
    if response.status == 429:  # the store's login limit: waiting is the answer
        wait = next((v for k, v in response.headers if k == "retry-after"), "a few")
        raise LoginFailed(f"login: {origin.host_header} refuses more login attempts for now; "
                          f"try again in {wait} s", exit_code=1)
    if response.status != 200:
        raise LoginFailed(f"login: {origin.host_header} answered HTTP {response.status} (is "
                          "it a vegetable-sniper store?)", exit_code=1)
    cookie = session_cookie([v for k, v in response.headers if k == "set-cookie"])
    if cookie is None:
        raise LoginFailed(f"login: {origin.host_header} set no session cookie", exit_code=1)
    return cookie
