"""Several tasks of one file on a repeating schedule, against a real store: each runs its own
openings with what the run's tasks share, a one-off task among them runs as ever, and the
file's end says every task's order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from sniper.client import history
from tests.e2e.conftest import StartStore
from tests.e2e.crowd import users
from tests.e2e.test_snipe import sniper


def test_two_tasks_each_order_at_a_time_of_day(start_store: StartStore, tmp_path: Path) -> None:
    store = start_store()
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    opening = datetime.fromtimestamp(now_ms // 1000 + 4, tz=UTC)
    response = store.admin(
        "PUT",
        "/admin/items/milk",
        json={"name": "milk", "price_cents": 199, "stock": 5, "sale_start": opening.isoformat()},
    )
    assert response.status_code == 200
    (_, first), (_, second), (_, third) = users(store, 3)
    (tmp_path / "a.cookie").write_text(f"session={first}\n")
    (tmp_path / "b.cookie").write_text(f"session={second}\n")
    (tmp_path / "c.cookie").write_text(f"session={third}\n")
    path = tmp_path / "task.yaml"
    path.write_text(
        f'platform: store\nbase_url: "{store.url}"\nsku_id: milk\n'
        f'target_time: "{opening.strftime("%H:%M:%S")}Z"\nrepeat: daily\n'
        "repeat_until: ordered\npreflight_s: 1\n"
        "tasks:\n  - {name: a, cookie_file: a.cookie}\n  - {name: b, cookie_file: b.cookie}\n"
        f'  - {{name: once, cookie_file: c.cookie, target_time: "{opening.isoformat()}", '
        "repeat: null, repeat_until: null}\n"
    )
    done = sniper("run", str(path), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    orders = store.admin("GET", "/admin/orders?sku_id=milk").json()["orders"]
    assert len(orders) == 3
    for order in orders:
        assert 0 <= order["created_ms"] - opening.timestamp() * 1000 <= 50
        assert f": ordered, order {order['order_id']}" in done.stdout
    assert "[a] no openings left (ordered)" in done.stdout
    assert "[b] no openings left (ordered)" in done.stdout
    records = history.read(tmp_path / "sniper-history.jsonl")  # the default, beside the file
    assert sorted(r.task for r in records) == ["a", "b"]  # a one-off task keeps no history
    assert "[once] no openings left" not in done.stdout
    assert {r.result for r in records} == {"ordered"}
    assert {r.opening for r in records} == {opening.isoformat(timespec="milliseconds")}
    assert first not in done.stdout + done.stderr
