"""Each user's order request: the bench file's request with the user's values filled in. Pure.

The request is cut into templates once (:mod:`sniper.client.placeholders`: URL values
percent-encoded, JSON values escaped, form values form-encoded); each user's
:class:`~sniper.client.connection.HttpCall` is then a few joins. The placeholders are
:data:`PLACEHOLDERS`: ``{user}``, ``{token}`` and ``{cookie}`` from the users file, and
``{request_id}``, one per user and run (:func:`request_id`).

The cookie column: a request that says nothing of cookies (no ``Cookie`` header, no ``{cookie}``
anywhere) sends each user's cookie as its ``Cookie`` header, the way a browser would send that
session; a request that places ``{cookie}`` itself, or has a ``Cookie`` header of its own, is
sent as written.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sniper.bench.users import User
from sniper.client.config import HttpRequest
from sniper.client.connection import HttpCall, Origin
from sniper.client.placeholders import Template, Where, body_kind, names_in

PLACEHOLDERS = ("user", "token", "cookie", "request_id")
#: A request id: 1–64 printable ASCII characters (what the store accepts, and what fits a header).
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,64}")


def new_run_id() -> str:
    """A run's id: 12 random hex digits, so that two runs (or two shards) never share a
    request id."""
    return secrets.token_hex(6)


def request_id(run_id: str, index: int) -> str:
    """The request id of the user on row ``index`` in run ``run_id``: ``RUN-INDEX``;
    ValueError for an empty run id, or unless it is 1–64 printable ASCII characters."""
    value = f"{run_id}-{index}"
    if not run_id or not _REQUEST_ID.fullmatch(value):
        raise ValueError("a request id is 1-64 printable ASCII characters, no space")
    return value


@dataclass(frozen=True, slots=True)
class Need:
    """A placeholder a part of the request takes: the part as the bench file names it
    (``request.headers.Authorization``) and whether it is a header (its values must be
    printable ASCII)."""

    name: str
    field: str
    header: bool


@dataclass(frozen=True, slots=True)
class OrderForm:
    """The bench file's request, cut once: where it goes, and how to fill it per user."""

    method: str
    origin: Origin
    target: Template
    #: Each header: its value as written, or the template that fills it.
    headers: tuple[tuple[str, str | Template], ...]
    body: Template | None
    #: The users file's cookie goes in a ``Cookie`` header of its own.
    sends_cookie: bool

    @classmethod
    def of(cls, request: HttpRequest, *, cookie_column: bool) -> OrderForm:
        """``request`` (an absolute http(s) URL), cut; ``cookie_column``: the users file has
        one."""
        parts = urlsplit(request.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = tuple(
            (name, Template.of(text, PLACEHOLDERS, Where.HEADER) if _holds(text) else text)
            for name, text in request.headers.items()
        )
        content_type = next(
            (v for k, v in request.headers.items() if k.lower() == "content-type"), None
        )
        body = (
            Template.of(request.body, PLACEHOLDERS, body_kind(content_type))
            if request.body
            else None
        )
        cookie_said = any(k.lower() == "cookie" for k in request.headers) or any(
            "cookie" in names_in(text, PLACEHOLDERS)
            for text in (request.url, request.body or "", *request.headers.values())
        )
        return cls(
            request.method.upper(),
            Origin.from_url(request.url),
            Template.of(path, PLACEHOLDERS, Where.URL),
            headers,
            body,
            sends_cookie=cookie_column and not cookie_said,
        )

    def needs(self) -> list[Need]:
        """Every placeholder each part takes, ``Cookie`` included when the form adds it."""
        found = [Need(n, "request.url", header=False) for n, _ in self.target.slots]
        for header, value in self.headers:
            if isinstance(value, Template):
                field = f"request.headers.{header}"
                found += [Need(n, field, header=True) for n, _ in value.slots]
        if self.body is not None:
            found += [Need(n, "request.body", header=False) for n, _ in self.body.slots]
        if self.sends_cookie:
            found.append(Need("cookie", "the Cookie header", header=True))
        return found

    def call(self, user: User, request_id: str) -> HttpCall:
        """``user``'s request with ``request_id``. The row is one of the users file that the
        bench file was loaded with: every value this form needs is there and fits where it
        goes (:func:`sniper.bench.benchfile.load_bench` checked it)."""
        values = {
            "user": user.user,
            "token": user.token,
            "cookie": user.cookie,
            "request_id": request_id,
        }
        headers = [
            (name, value if isinstance(value, str) else value.fill(values))
            for name, value in self.headers
        ]
        if self.sends_cookie and user.cookie is not None:
            headers.append(("Cookie", user.cookie))
        body = self.body.fill(values).encode() if self.body is not None else b""
        return HttpCall(self.method, self.target.fill(values), tuple(headers), body)


def _holds(text: str) -> bool:
    return bool(names_in(text, PLACEHOLDERS))
