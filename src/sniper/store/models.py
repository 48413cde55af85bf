"""The store's records: items, orders, sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UPCOMING, ON_SALE, SOLD_OUT = "upcoming", "on_sale", "sold_out"


@dataclass(frozen=True, slots=True)
class Item:
    """A flash-sale item as stored."""

    sku_id: str
    name: str
    price_cents: int
    stock: int
    sale_start: str
    sale_start_ms: int
    limit_per_user: int

    def status(self, now_ms: int) -> str:
        """``upcoming`` before the opening, then ``sold_out`` at zero stock, else ``on_sale``."""
        if now_ms < self.sale_start_ms:
            return UPCOMING
        return SOLD_OUT if self.stock <= 0 else ON_SALE

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """The item as the API shows it."""
        return {
            "sku_id": self.sku_id,
            "name": self.name,
            "price_cents": self.price_cents,
            "stock": self.stock,
            "sale_start": self.sale_start,
            "limit_per_user": self.limit_per_user,
            "status": self.status(now_ms),
        }


@dataclass(frozen=True, slots=True)
class Order:
    """An acknowledged order."""

    order_id: str
    sku_id: str
    qty: int
    user: str
    created_ms: int
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The order as the API shows it."""
        return {
            "order_id": self.order_id,
            "sku_id": self.sku_id,
            "qty": self.qty,
            "user": self.user,
            "created_ms": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A login session: the user it belongs to and when it stops being valid."""

    user: str
    token_hash: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create: a password hash (None for session-only users) and a first session."""

    user: str
    password_hash: str | None
    session: Session
