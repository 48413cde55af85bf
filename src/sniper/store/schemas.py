"""Request bodies of the store API, validated strictly.

JSON booleans, strings and floats are not integers; identifiers are 1 to 64 letters, digits,
``-`` and ``_``; ``request_id`` is 1 to 64 printable ASCII characters; an item's name is 1 to 200
characters with no control characters (no NUL, which PostgreSQL cannot store; no escape sequence
for a terminal that shows it); unknown fields are refused,
so that a misspelt field is an error rather than a silent default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sniper.errors import BadRequest
from sniper.rfc3339 import parse_rfc3339
from sniper.store.models import Item
from sniper.validation import IDENTIFIER_PATTERN, describe, duplicate_key

MAX_QTY = 1000
MAX_COUNT = 10_000
MAX_AMOUNT = 1_000_000_000
#: The largest body of ``POST /admin/users/delete``: :data:`MAX_COUNT` names of 64 characters,
#: quoted and separated, with room to spare (every other body fits in 4 KiB).
MAX_USERS_DELETE_BYTES = 1 << 20

# pydantic's patterns run on Rust's regex engine, where ``$`` is the very end of the text.
Identifier = Annotated[str, StringConstraints(pattern=f"^{IDENTIFIER_PATTERN}$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,64}$")]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters (such as NUL or ESC) are not allowed")
    return value


Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200), pydantic.AfterValidator(_no_control)
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Qty = Annotated[int, Field(ge=1, le=MAX_QTY)]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
Limit = Annotated[int, Field(ge=1, le=MAX_QTY)]


def epoch_ms(sale_start: str) -> int:
    """An RFC 3339 time (already validated) as epoch milliseconds."""
    return int(parse_rfc3339(sale_start).timestamp() * 1000)


def _check_sale_start(value: str) -> str:
    parsed = parse_rfc3339(value)
    return parsed.isoformat()


SaleStart = Annotated[str, pydantic.AfterValidator(_check_sale_start)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrderBody(_Body):
    """``POST /api/orders``."""

    sku_id: Identifier
    qty: Qty = 1
    request_id: RequestId | None = None


class LoginBody(_Body):
    """``POST /api/login``."""

    user: Identifier
    password: Password


class ItemBody(_Body):
    """``PUT /admin/items/{sku_id}``: the whole item."""

    name: Name
    price_cents: Amount
    stock: Amount
    sale_start: SaleStart
    limit_per_user: Limit = 1

    def to_item(self, sku_id: str) -> Item:
        """The item as stored."""
        return Item(
            sku_id,
            self.name,
            self.price_cents,
            self.stock,
            self.sale_start,
            epoch_ms(self.sale_start),
            self.limit_per_user,
        )


class ItemPatchBody(_Body):
    """``PATCH /admin/items/{sku_id}``: absent fields stay, explicit values (0 too) are set."""

    name: Name | None = None
    price_cents: Amount | None = None
    stock: Amount | None = None
    sale_start: SaleStart | None = None
    limit_per_user: Limit | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ItemPatchBody:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"null is not a value for {', '.join(nulls)}; leave the field out")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the request named."""
        return {f: getattr(self, f) for f in sorted(self.model_fields_set)}


class UsersBody(_Body):
    """``POST /admin/users``: one named user with a password, or ``count`` generated users."""

    user: Identifier | None = None
    password: Password | None = None
    count: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> UsersBody:
        named = self.user is not None or self.password is not None
        if named == (self.count is not None):
            raise ValueError('give either "user" and "password", or "count"')
        if named and (self.user is None or self.password is None):
            raise ValueError('"user" and "password" go together')
        return self


class UsersDeleteBody(_Body):
    """``POST /admin/users/delete``: up to :data:`MAX_COUNT` users to remove, by name."""

    users: Annotated[list[Identifier], Field(max_length=MAX_COUNT)]


B = TypeVar("B", bound=_Body)


def parse_body(model: type[B], raw: bytes) -> B:
    """Validate a JSON body against ``model``; any fault is :class:`BadRequest` naming it.

    A key given twice is refused, though the parser would keep the last one silently. Finding
    that takes a second parse, done only when the body could hold a duplicate: every key of a
    JSON object is followed by a colon, so a body with no more colons than the distinct fields
    it set has no key twice (nor a nested one). A colon inside a string only costs the check.
    """
    try:
        # model_validate_json and model_fields_set without their Python wrappers: this runs for
        # every order of an opening's flood.
        body: B = model.__pydantic_validator__.validate_json(raw)
    except pydantic.ValidationError as exc:
        raise BadRequest(describe(exc)) from None
    if raw.count(b":") != len(body.__pydantic_fields_set__):
        key = duplicate_key(raw)
        if key is not None:
            raise BadRequest(f"{key}: given more than once")
    return body
