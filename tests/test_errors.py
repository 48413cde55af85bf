"""One root for every error the project raises on purpose, drawn in ``sniper.errors``."""

from __future__ import annotations

import importlib
import pkgutil
import re

import sniper
import sniper.errors
from sniper.errors import SniperError


def _public_exceptions() -> list[type[BaseException]]:
    """Every exception class the package defines under a public name (``__main__`` aside: it
    runs the CLI when imported)."""
    found = []
    for info in pkgutil.walk_packages(sniper.__path__, "sniper."):
        if info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        found += [
            value
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, BaseException)
            and value.__module__ == info.name
            and not name.startswith("_")
        ]
    return found


def test_every_public_error_derives_from_sniper_error() -> None:
    """A caller can catch everything the project raises on purpose with one class."""
    exceptions = _public_exceptions()
    assert exceptions
    assert [e.__qualname__ for e in exceptions if not issubclass(e, SniperError)] == []


def test_the_tree_in_the_docstring_names_every_error_of_the_module() -> None:
    """``sniper.errors``' docstring draws each of its classes."""
    doc = sniper.errors.__doc__ or ""
    defined = [
        name
        for name, value in vars(sniper.errors).items()
        if isinstance(value, type)
        and issubclass(value, SniperError)
        and value.__module__ == "sniper.errors"
    ]
    assert [name for name in defined if not re.search(rf"^\W*{name}\b", doc, re.M)] == []
