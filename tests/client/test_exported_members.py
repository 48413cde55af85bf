"""The platform plugin API: what ``sniper.client`` exports, and that a plugin can use it."""

from __future__ import annotations

import importlib
import json
import re
import types
import typing
from pathlib import Path

import pytest

import sniper.client
from sniper.client import Kind, Verdict
from sniper.client.config import TaskConfig

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_API = ["HttpCall", "Kind", "Platform", "Probe", "Response", "Verdict"]


def test_all_lists_every_public_name_sorted() -> None:
    """``__all__`` is the plugin API, sorted, and names every public object of the package
    (its submodules are not exports)."""
    public = [
        name
        for name, value in vars(sniper.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    assert sniper.client.__all__ == sorted(public) == PLUGIN_API


@pytest.mark.parametrize("name", PLUGIN_API)
def test_each_export_is_its_defining_modules_object(name: str) -> None:
    """Each name is importable from the module it names as its own, and its annotations resolve
    there (a plugin's tooling may read them: ``typing.get_type_hints``). So ``__module__`` is
    left as it is; rewritten to ``sniper.client`` as httpx does, ``Platform``'s ``ClassVar``
    annotations would no longer resolve."""
    exported = getattr(sniper.client, name)
    assert getattr(importlib.import_module(exported.__module__), name) is exported
    assert isinstance(typing.get_type_hints(exported), dict)


def _readme_plugin(readme: str) -> str:
    """The README's plugin example: its one Python block that imports from sniper.client."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / readme).read_text(), flags=re.S)
    found = [b for b in blocks if "from sniper.client import" in b]
    assert len(found) == 1
    return str(found[0])


def test_the_readme_plugin_example_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's example, the same in both languages, is a platform that builds its order
    from the task and reads answers, with nothing but the exported names."""
    example = _readme_plugin("README.md")
    assert _readme_plugin("README.zh-CN.md") == example
    (tmp_path / "readme_shop.py").write_text(example)
    monkeypatch.syspath_prepend(str(tmp_path))
    shop_class = importlib.import_module("readme_shop").MyShop
    assert issubclass(shop_class, sniper.client.Platform)
    task = TaskConfig.model_validate(
        {
            "base_url": "http://127.0.0.1:8000",
            "sku_id": "eggs",
            "qty": 2,
            "target_time": "2030-04-15T07:00:00+08:00",
        }
    )
    shop: sniper.client.Platform = shop_class(task, "session=tok")
    call = shop.order_call("rid-1")
    assert (call.method, call.target) == ("POST", "/api/order")
    assert ("Cookie", "session=tok") in call.headers
    assert json.loads(call.body) == {"sku": "eggs", "qty": 2, "rid": "rid-1"}

    def verdict(status: int, body: bytes = b"") -> sniper.client.Verdict:
        return shop.classify(sniper.client.Response(status, (), body, 0.0))

    assert verdict(200, b'{"orderId": 42}') == Verdict(Kind.ORDERED, order_id="42")
    assert verdict(401).kind is Kind.AUTH
    assert verdict(409).kind is Kind.SOLD_OUT
    assert verdict(503).kind is Kind.RETRY
