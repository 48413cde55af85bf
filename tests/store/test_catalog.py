"""``--catalog items.yaml``: read and checked, with one-line errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sniper.errors import ConfigError
from sniper.store.catalog import load_catalog_file
from sniper.store.models import Item

GOOD = """\
items:
  eggs:
    name: Eggs, 30
    price_cents: 1290
    stock: 100
    sale_start: 2024-04-15T07:00:00+08:00
    limit_per_user: 2
  milk:
    name: Milk
    price_cents: 300
    stock: 5
    sale_start: "2024-04-15T07:00:00Z"
"""


def test_a_catalog_file_gives_its_items(tmp_path: Path) -> None:
    path = tmp_path / "items.yaml"
    path.write_text(GOOD)
    eggs, milk = load_catalog_file(path)
    assert eggs == Item(
        "eggs", "Eggs, 30", 1290, 100, "2024-04-15T07:00:00+08:00", 1_713_135_600_000, 2
    )
    assert (milk.sku_id, milk.stock, milk.limit_per_user) == ("milk", 5, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items: [1, 2]", "must hold one mapping"),
        ("things: {}", "must hold one mapping"),
        (
            "items: {eggs: {name: E, price_cents: 1, stock: -1,"
            " sale_start: '2024-04-15T07:00:00Z'}}",
            "items.eggs.stock",
        ),
        (
            "items: {eggs: {name: E, price_cents: '1', stock: 1,"
            " sale_start: '2024-04-15T07:00:00Z'}}",
            "items.eggs.price_cents",
        ),
        ("items: {eggs: {name: E, price_cents: 1, stock: 1}}", "items.eggs.sale_start"),
        (
            "items: {eggs: {name: E, price_cents: 1, stock: 1, sale_start: 2024-04-15 07:00:00}}",
            "items.eggs.sale_start",
        ),
        (
            "items: {'no spaces': {name: E, price_cents: 1, stock: 1, "
            "sale_start: '2024-04-15T07:00:00Z'}}",
            "items.no spaces",
        ),
        (
            "items: {eggs: {name: E, price_cents: 1, stock: 1, sale_start: '2024-04-15T07:00:00Z', "
            "colour: red}}",
            "items.eggs.colour: unknown field",
        ),
        ("items: {eggs: [", "not valid YAML"),
    ],
)
def test_a_wrong_catalog_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "items.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_catalog_file(path)
    assert str(caught.value).startswith("catalog: ")


def test_a_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog_file(tmp_path / "nope.yaml")
