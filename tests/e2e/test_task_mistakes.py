"""A newcomer's mistakes in a task file, against a real store: refused with a clear line (exit 2)
before any order is sent, or warned about."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.conftest import StartStore
from tests.e2e.test_snipe import sniper, task_file

#: The date the README once showed: long past.
README_SAMPLE = "2024-04-15T07:00:00+08:00"


class TestPastTarget:
    """A one-off target_time more than retry.window_s past is a bad task."""

    def test_check_refuses_it(self, start_store: StartStore, tmp_path: Path) -> None:
        """check: exit 2 and a line saying the time is past, with the server's now."""
        store = start_store(args=("--clock-skew-ms", "1500"))
        path, _, _ = task_file(store, tmp_path, opens_in_s=5)
        path.write_text(_retarget(path, README_SAMPLE))
        done = sniper("check", str(path), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert (
            f"✗ target_time: {datetime.fromisoformat(README_SAMPLE).isoformat()} is in the "
            "past (the server's clock says 20" in done.stdout
        )
        assert "would fire" not in done.stdout
        assert "Traceback" not in done.stderr

    def test_run_refuses_it_and_sends_nothing(
        self, start_store: StartStore, tmp_path: Path
    ) -> None:
        """run: exit 2, no order request sent (the log has no attempt), no order made."""
        store = start_store()
        path, _, _ = task_file(store, tmp_path, opens_in_s=5)
        path.write_text(_retarget(path, README_SAMPLE))
        done = sniper("run", str(path), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "is in the past" in done.stdout
        assert "request sent" not in done.stdout
        events = [json.loads(ln) for ln in (tmp_path / "s.log").read_text().splitlines()]
        assert [e["event"] for e in events] == ["summary"]
        assert events[0]["result"] == "bad_task"
        assert store.admin("GET", "/admin/orders").json()["orders"] == []

    def test_a_few_seconds_past_still_runs(self, start_store: StartStore, tmp_path: Path) -> None:
        """Started 2 s after an opening that is on sale: it orders at once (exit 0)."""
        store = start_store()
        path, opening_ms, _ = task_file(store, tmp_path, opens_in_s=0)
        past = datetime.fromtimestamp(opening_ms / 1000 - 3, tz=UTC).isoformat()
        path.write_text(_retarget(path, past))
        done = sniper("run", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(store.admin("GET", "/admin/orders").json()["orders"]) == 1


def test_check_warns_when_target_time_is_not_the_items_sale_start(
    start_store: StartStore, tmp_path: Path
) -> None:
    """The store's item says when it opens: a target an hour off is a warning; exit stays 0."""
    store = start_store()
    path, opening_ms, _ = task_file(store, tmp_path, opens_in_s=5)
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC)
    later = (opening + timedelta(hours=1)).isoformat()
    path.write_text(_retarget(path, later))
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"! target_time {later} differs from the item's sale_start "
        f"{opening.isoformat()}: the sale opens at sale_start" in done.stdout
    )
    path.write_text(_retarget(path, opening.isoformat()))
    same = sniper("check", str(path), cwd=tmp_path)
    assert same.returncode == 0
    assert "differs" not in same.stdout


def test_check_an_item_the_store_does_not_have_is_a_bad_task(
    start_store: StartStore, tmp_path: Path
) -> None:
    """A 404 item: exit 2 with a line naming sku_id, not 1 ("unexpected error")."""
    store = start_store()
    path, _, _ = task_file(store, tmp_path, opens_in_s=5)
    path.write_text(path.read_text().replace("sku_id: eggs", "sku_id: eggz"))
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "item: HTTP 404 FAILED" in done.stdout
    assert "✗ sku_id: the store has no item 'eggz'" in done.stdout


def _retarget(path: Path, target: str) -> str:
    """The task file's text with another target_time."""
    lines = path.read_text().splitlines()
    return (
        "\n".join(
            f'target_time: "{target}"' if ln.startswith("target_time:") else ln for ln in lines
        )
        + "\n"
    )


def test_check_from_another_directory_reads_the_cookie_beside_the_task(
    start_store: StartStore, tmp_path: Path
) -> None:
    """``cd / && sniper check /tmp/x/task.yaml`` with ``cookie_file: me.cookie`` beside it."""
    store = start_store()
    path, _, token = task_file(store, tmp_path, opens_in_s=5)
    (tmp_path / "me.cookie").write_text(f"session={token}\n")
    text = path.read_text().replace(f'cookie: "session={token}"', "cookie_file: me.cookie")
    path.write_text(text)
    done = sniper("check", str(path), cwd=Path("/"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "login: HTTP 200 ok" in done.stdout


def test_a_history_file_that_cannot_be_written_is_refused_at_start(tmp_path: Path) -> None:
    """A repeating task whose history_file is a folder: one line naming it, exit 2."""
    (tmp_path / "hist").mkdir()
    path = tmp_path / "task.yaml"
    path.write_text(
        'platform: store\nbase_url: "http://127.0.0.1:9"\ncookie: "session=abcdefghijkl"\n'
        'sku_id: eggs\ntarget_time: "07:00:00+08:00"\nrepeat: daily\nhistory_file: hist\n'
    )
    done = sniper("run", str(path), cwd=tmp_path, timeout=30)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"sniper: history_file: cannot write {tmp_path / 'hist'}: Is a directory"
    )
    assert done.stdout == ""
