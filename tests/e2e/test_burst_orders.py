"""One buyer, one burst, against a real store that allows 5 per user: an imported cURL task of
the store's own order call makes one order; a task that carries no request id is warned about,
and every order it makes is reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tests.e2e.conftest import StartStore
from tests.e2e.store_process import StoreProcess
from tests.e2e.test_snipe import sniper, task_file


def _limit_5(store: StoreProcess, tmp_path: Path) -> tuple[int, str, str]:
    """An item (stock 10, 5 per user) opening 4 s ahead; its opening, RFC 3339, and a session."""
    _, opening_ms, token = task_file(store, tmp_path, opens_in_s=4)
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    assert (
        store.admin(
            "PATCH", "/admin/items/eggs", json={"stock": 10, "limit_per_user": 5}
        ).status_code
        == 200
    )
    return opening_ms, opening, token


def test_imported_store_order_call_makes_one_order(start_store: StartStore, tmp_path: Path) -> None:
    """import-curl puts {request_id} in (and says so): three requests, one order."""
    store = start_store()
    _, opening, token = _limit_5(store, tmp_path)
    (tmp_path / "order.curl").write_text(
        f"curl '{store.url}/api/orders' -H 'content-type: application/json' "
        f'-b \'session={token}\' --data-raw \'{{"sku_id":"eggs","qty":1}}\'\n'
    )
    made = sniper(
        "import-curl",
        "order.curl",
        "-o",
        "imported.yaml",
        "--sku-id",
        "eggs",
        "--target-time",
        opening,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    with (tmp_path / "imported.yaml").open("a") as task:
        task.write(f'log_file: "{tmp_path}/h.log"\n')
    done = sniper("run", "imported.yaml", cwd=tmp_path, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("→ request sent") >= 3
    assert len(store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]) == 1
    assert "orders were placed" not in done.stdout
    assert "seq 1-3 share request id snp-" in done.stdout
    assert "note: this is the store's own order call" in made.stdout
    assert "warning" not in made.stderr


def test_every_order_of_a_burst_without_request_id_is_reported(
    start_store: StartStore, tmp_path: Path
) -> None:
    """An http task with no {request_id}: warned before the opening; three 201s make three
    orders, all three named (console, summary log line); exit 0."""
    store = start_store()
    opening_ms, opening, token = _limit_5(store, tmp_path)
    # On sale a little before the burst lands, so that each of its requests meets an open sale
    # (one landing a millisecond early would be a 425, and its retry may never be sent).
    early = datetime.fromtimestamp(opening_ms / 1000 - 2, tz=UTC).isoformat()
    assert store.admin("PATCH", "/admin/items/eggs", json={"sale_start": early}).status_code == 200
    (tmp_path / "me.cookie").write_text(f"session={token}\n")
    path = tmp_path / "task.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "platform": "http",
                "base_url": store.url,
                "cookie_file": "me.cookie",
                "sku_id": "eggs",
                "target_time": opening,
                "log_file": "h.log",
                "request": {
                    "method": "POST",
                    "url": f"{store.url}/api/orders",
                    "headers": {"Content-Type": "application/json"},
                    "body": '{"sku_id":"{sku_id}"}',
                },
            }
        )
    )
    done = sniper("run", str(path), cwd=Path("/"), timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "! the request carries no {request_id}: each of the 3 requests" in done.stdout
    assert "share request id" not in done.stdout  # that would be untrue here
    orders = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    ids = sorted(o["order_id"] for o in orders)
    assert len(ids) == 3
    assert "! 3 orders were placed, not one: " in done.stdout
    assert all(i in done.stdout for i in ids)
    summary = json.loads((tmp_path / "h.log").read_text().splitlines()[-1])
    assert (summary["result"], summary["orders"], sorted(summary["order_ids"])) == (
        "ordered",
        3,
        ids,
    )
