"""``sniper serve --catalog items.yaml``: items to create at start-up, read and checked here.

    items:
      eggs:
        name: Eggs, 30
        price_cents: 1290
        stock: 100
        sale_start: "2024-04-15T07:00:00+08:00"
        limit_per_user: 1

Each item is created only if it does not exist yet, so a replica restarting mid-sale never resets
live stock (on Redis, under a lock so that replicas starting together load it once).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pydantic
import yaml

from sniper.errors import ConfigError
from sniper.store.models import Item
from sniper.store.schemas import Identifier, ItemBody
from sniper.validation import describe

_Catalog = pydantic.TypeAdapter(dict[Identifier, ItemBody])


def load_catalog_file(path: Path) -> list[Item]:
    """The items of a catalog file; ``ConfigError`` naming the file and field if it is wrong."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"catalog: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"catalog: {path} is not valid YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict) or set(data) != {"items"} or not isinstance(data["items"], dict):
        raise ConfigError(f"catalog: {path} must hold one mapping, items: {{sku_id: item}}")
    try:
        bodies = _Catalog.validate_python(_times_as_text(data["items"]))
    except pydantic.ValidationError as exc:
        raise ConfigError(f"catalog: {path}: items.{describe(exc)}") from None
    return [body.to_item(sku) for sku, body in bodies.items()]


def _times_as_text(value: Any) -> Any:
    """YAML reads an unquoted time as a datetime; the item wants the RFC 3339 text."""
    if isinstance(value, dict):
        return {k: _times_as_text(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value
