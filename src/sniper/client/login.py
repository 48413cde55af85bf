"""``sniper login``: a store's session cookie, from a user name and a password."""

from __future__ import annotations

import json
import re
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from sniper.client.connection import Connection, HttpCall, Origin, Response, ssl_context
from sniper.client.scrub import printable
from sniper.clock import Clock, SystemClock
from sniper.errors import ConfigError, SniperError
from sniper.validation import is_identifier

#: The store's session cookie.
SESSION = "session"
#: How much of a server's own words (an error message, a Retry-After) a line repeats.
_SAID_CHARS = 120


class LoginFailed(SniperError):
    """The store did not log us in; ``exit_code`` is 4 for a refused password, 2 for a request
    it calls malformed, else 1."""

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


def check_user(user: str) -> None:
    """A ConfigError unless ``user`` is a store user name (the identifier rule): said before a
    password is asked for or anything is sent. The name is not repeated (it may be a typo'd
    password)."""
    if not is_identifier(user):
        raise ConfigError("user: a store user name is 1-64 letters, digits, - and _")


def _retry_when(response: Response) -> str:
    """When ``Retry-After`` says to try again, in words (the server's text made printable)."""
    value = (response.header("retry-after") or "").strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return f"in {int(value)} s"
    if value:
        return f"after {printable(value)[:_SAID_CHARS]}"
    return "in a moment"


def _server_says(response: Response) -> str:
    """The store's ``message`` of an error answer, printable, or nothing."""
    try:
        said = json.loads(response.body).get("message")
    except (ValueError, AttributeError, RecursionError):  # not JSON, not an object, too deep
        return ""
    return f": {printable(said)[:_SAID_CHARS]}" if isinstance(said, str) and said else ""


async def login(
    url: str,
    user: str,
    password: str,
    *,
    ca_file: Path | None = None,
    timeout_s: float = 10.0,
    clock: Clock | None = None,
) -> str:
    """``POST /api/login`` on the store at ``url``; the cookie to send (``session=TOKEN``)."""
    check_user(user)
    origin = Origin.from_url(url)
    conn = Connection(origin, clock or SystemClock(), ssl_context(origin, ca_file))
    body = json.dumps({"user": user, "password": password}).encode()
    call = HttpCall(
        "POST",
        "/api/login",
        (("Content-Type", "application/json"), ("Accept", "application/json")),
        body,
    )
    try:
        await conn.open(timeout_s)
        response = await conn.request(call, timeout_s)
    finally:
        await conn.aclose()
    host = origin.host_header
    if response.status == 401:
        raise LoginFailed(f"login: {host} refused user {user!r} and this password", exit_code=4)
    if response.status == 429:  # the store's login limit: waiting is the answer
        raise LoginFailed(
            f"login: {host} refuses more login attempts for now; try again {_retry_when(response)}",
            exit_code=1,
        )
    if response.status == 503:  # its password hashing is saturated (a crowd logging in)
        raise LoginFailed(
            f"login: {host} is too busy to log anyone in (HTTP 503"
            f"{_server_says(response)}); try again {_retry_when(response)}",
            exit_code=1,
        )
    if response.status == 400:  # the name passed our check: the password, say
        raise LoginFailed(
            f"login: {host} refused the request as malformed (HTTP 400{_server_says(response)})",
            exit_code=2,
        )
    if response.status != 200:
        raise LoginFailed(
            f"login: {host} answered HTTP {response.status} (is it a vegetable-sniper store?)",
            exit_code=1,
        )
    cookie = session_cookie([v for k, v in response.headers if k == "set-cookie"])
    if cookie is None:
        raise LoginFailed(f"login: {host} set no session cookie", exit_code=1)
    return cookie
