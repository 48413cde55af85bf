"""How the records of :mod:`sniper.store.models` are laid out in storage, derived from the
dataclasses so that a field added there reaches every backend: the item's fields (SQL columns,
Redis hash fields) and the columns of the ``orders`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from operator import attrgetter
from typing import Any, get_type_hints

from sniper.store.models import Item, Order

#: The item's fields in order: the ``items`` table's columns, ``Item(*row)`` of a row.
ITEM_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Item))
#: The fields that describe an item (all but its key): a Redis hash's fields, what a patch sets.
ITEM_VALUES: tuple[str, ...] = ITEM_FIELDS[1:]
#: Each field's type, which turns its stored text back into the value (Redis keeps text).
_ITEM_TYPES: dict[str, Any] = get_type_hints(Item)

#: The item as a row, in :data:`ITEM_FIELDS` order.
item_row: attrgetter[tuple[Any, ...]] = attrgetter(*ITEM_FIELDS)

#: The ``orders`` table's columns, in :class:`Order` field order (``user`` is ``username`` in
#: SQL, where ``user`` is a reserved word).
ORDER_COLUMNS: tuple[str, ...] = tuple(
    "username" if f.name == "user" else f.name for f in fields(Order)
)
#: The order as a row, in :data:`ORDER_COLUMNS` order (``Order(*row)`` reads one back).
order_row: attrgetter[tuple[Any, ...]] = attrgetter(*(f.name for f in fields(Order)))


def item_from_text(sku_id: str, stored: Mapping[str, str]) -> Item:
    """An item from its fields stored as text (a Redis hash), each back to its type."""
    return Item(sku_id, **{f: _ITEM_TYPES[f](stored[f]) for f in ITEM_VALUES})


def placeholders(columns: tuple[str, ...]) -> str:
    """``?, ?, …``: one SQL parameter per column."""
    return ", ".join("?" * len(columns))
