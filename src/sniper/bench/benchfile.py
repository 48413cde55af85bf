"""A bench file: anyone's seckill endpoint, its users, its stock, how to read its answers.

::

    request: {method: POST, url: "http://127.0.0.1:9000/seckill",
              headers: {Authorization: "Bearer {token}"}, body: '{"rid":"{request_id}"}'}
    rules: {order_id: [{json: order}]}                  # the http platform's rules
    users: users.csv                                    # beside this file
    stock: 100
    count: {url: "http://127.0.0.1:9000/count", json: sold}     # optional
    clock: {url: "http://127.0.0.1:9000/time", json: now_ms}    # optional

Everything is checked when the file is read, the users file included: an unknown key, a URL that
is not http(s), a placeholder the users file cannot fill (``{token}`` with no token column, or a
row without one), a value that cannot go into the header that takes it. Each is one
:class:`~sniper.errors.ConfigError` line naming the field (or the users file's line), as the task
file's are.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sniper.bench.order import PLACEHOLDERS, OrderForm
from sniper.bench.users import User, Users, read_users
from sniper.client.config import (
    ClockConfig,
    HttpRequest,
    HttpRules,
    JsonPath,
    http_url,
    read_yaml,
)
from sniper.client.connection import HttpCall, Origin
from sniper.client.placeholders import BUILTINS, names_in
from sniper.errors import ConfigError
from sniper.validation import describe

_URL_TEXT = re.compile(r"[\x21-\x7e]+")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
#: A word in braces: a placeholder, or a misspelt one.
_BRACED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Names the http platform fills that a bench has no value for.
_FOREIGN = tuple(name for name in BUILTINS if name not in PLACEHOLDERS)
#: Headers the connection writes itself, from the URL and the body.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


def _endpoint(value: str) -> str:
    if not _URL_TEXT.fullmatch(value):
        raise ValueError("must be a URL without spaces or non-ASCII (percent-encode them)")
    return http_url(value)


def _no_foreign(text: str, where: str) -> None:
    """A name the http platform would fill (``{sku_id}``), or a misspelt placeholder
    (``{Token}``, ``{requestid}``), is not sent as it stands: braces around another word are
    left alone (a JSON body holds them)."""
    filled = ", ".join(f"{{{n}}}" for n in PLACEHOLDERS)
    foreign = names_in(text, _FOREIGN)
    if foreign:
        raise ValueError(f"{where}{{{foreign[0]}}} has no value in a bench (it fills {filled})")
    for word in _BRACED.findall(text):
        if word in PLACEHOLDERS:
            continue
        near = difflib.get_close_matches(word.lower(), PLACEHOLDERS, n=1, cutoff=0.75)
        if near:
            raise ValueError(f"{where}{{{word}}} is no placeholder: did you mean {{{near[0]}}}?")


class BenchRequest(HttpRequest):
    """The http platform's request, with what a bench needs besides: an absolute http(s) URL
    whose origin holds no placeholder (every user's request goes to one origin), and no
    header the connection writes itself."""

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        netloc = urlsplit(http_url(value)).netloc
        if "{" in netloc or "}" in netloc:
            raise ValueError("the host and port cannot hold a placeholder (one origin for all)")
        if "@" in netloc:
            raise ValueError("must not hold a user or password (send an Authorization header)")
        _no_foreign(value, "")
        return value

    @field_validator("headers")
    @classmethod
    def _sendable(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"{name} is written by the connection (from the URL and body)")
            _no_foreign(text, f"{name}: ")
        return value

    @field_validator("body")
    @classmethod
    def _filled(cls, value: str | None) -> str | None:
        if value is not None:
            _no_foreign(value, "")
        return value


class CountConfig(BaseModel):
    """The server's own count after the run: ``GET url``, the number at the JSON path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    json_path: JsonPath = Field(alias="json")

    @field_validator("url")
    @classmethod
    def _sendable_url(cls, value: str) -> str:
        return _endpoint(value)


class BenchFile(BaseModel):
    """A bench file's fields, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: BenchRequest
    rules: HttpRules = HttpRules()
    users: Annotated[str, Field(min_length=1)]
    stock: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
    count: CountConfig | None = None
    clock: ClockConfig | None = None


@dataclass(frozen=True, slots=True)
class Bench:
    """A bench file read and checked with its users file."""

    path: Path
    file: BenchFile
    users: Users
    form: OrderForm

    @property
    def origin(self) -> Origin:
        """Where every user's request goes."""
        return self.form.origin

    def call(self, row: User, request_id: str) -> HttpCall:
        """The request of ``row``, a row of this bench's users file."""
        return self.form.call(row, request_id)


def load_bench(path: Path) -> Bench:
    """The bench file at ``path`` and the users file it names (relative to its folder)."""
    data = read_yaml(path)
    try:
        bench = BenchFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(f"{path}: {describe(exc, BenchFile)}") from None
    users_path = Path(bench.users).expanduser()
    if not users_path.is_absolute():
        users_path = path.parent / users_path
    if not users_path.exists():
        raise ConfigError(
            f"{path}: users: no file {users_path} (a relative path is from the bench file's folder)"
        )
    users = read_users(users_path)
    form = OrderForm.of(bench.request, cookie_column="cookie" in users.columns)
    check_users(form, users, path)
    return Bench(path, bench, users, form)


def check_users(form: OrderForm, users: Users, bench_path: Path) -> None:
    """Every placeholder the request takes has a column in the users file, and every row a
    value that can go where it stands; else ConfigError naming the field or the line."""
    needs = form.needs()
    for need in needs:
        if need.name in ("token", "cookie") and need.name not in users.columns:
            has = ", ".join(c for c in ("user", "token", "cookie") if c in users.columns)
            raise ConfigError(
                f"{bench_path}: {need.field}: {{{need.name}}} needs a {need.name} column in "
                f"{users.name} (it has {has})"
            )
    by_user = [need for need in needs if need.name != "request_id"]
    for row in users.rows:
        for need in by_user:
            value = row.value(need.name)
            if value is None:
                raise ConfigError(
                    f"{users.name} line {row.line}: no {need.name}, and {need.field} needs one"
                )
            if need.header and not _PRINTABLE.fullmatch(value):
                raise ConfigError(
                    f"{users.name} line {row.line}: {need.name} cannot go into {need.field} "
                    "(only printable ASCII can go into an HTTP header)"
                )
