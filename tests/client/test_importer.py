"""``sniper import-curl`` as a user meets it: the files it writes, and what it refuses (exit 2,
one line, nothing written or changed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from sniper.cli import cli
from sniper.client.config import load_task
from tests.client.test_curl import FIREFOX, WINDOWS

FUTURE = "2099-04-15T07:00:00+08:00"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own directory."""
    monkeypatch.chdir(tmp_path)


def import_curl(tmp_path: Path, command: str, *args: str) -> Result:
    """Run ``sniper import-curl order.curl ARGS`` in ``tmp_path``."""
    (tmp_path / "order.curl").write_bytes(command.encode())
    return CliRunner().invoke(cli, ["import-curl", "order.curl", *args])


def test_writes_a_task_that_loads(tmp_path: Path) -> None:
    """The task names its cookie file relative to itself: it loads from any directory."""
    out = tmp_path / "shop" / "task.yaml"
    out.parent.mkdir()
    done = import_curl(
        tmp_path, FIREFOX, "-o", str(out), "--sku-id", "100234567", "--target-time", FUTURE
    )
    assert done.exit_code == 0, done.output
    assert yaml.safe_load(out.read_text())["cookie_file"] == "task.yaml.cookie"
    assert out.stat().st_mode & 0o077 == 0
    assert load_task(out).cookie_value() == "session=abc123def456; device_id=xyz-789"
    assert "abc123def456" not in done.output


def test_a_windows_cmd_paste_is_read(tmp_path: Path) -> None:
    """Chrome's "Copy as cURL (cmd)" makes the same task as its bash form would."""
    out = tmp_path / "task.yaml"
    done = import_curl(tmp_path, WINDOWS, "-o", str(out), "--sku-id", "100234567")
    assert done.exit_code == 0, done.output
    request = yaml.safe_load(out.read_text())["request"]
    assert request["url"] == "https://shop.example.com/api/order/submit?source=h5&x=%41"
    assert request["body"].startswith('{"skuId":"{sku_id}","num":1,')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--target-time", "tomorrow 7am"),
            "sniper: --target-time: must be RFC 3339 with an offset",
        ),
        (("--target-time", "2099-04-15T07:00:00"), "sniper: --target-time: must be RFC 3339"),
        (
            ("-o", "no/such/folder/task.yaml"),
            "sniper: -o: the folder no/such/folder does not exist",
        ),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """Exit 2, one line, no traceback, no file written."""
    done = import_curl(tmp_path, FIREFOX, *args)
    assert done.exit_code == 2, done.output
    assert done.output.splitlines() == [done.output.strip()]
    assert done.output.startswith(message)
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert [p.name for p in tmp_path.rglob("*")] == ["order.curl"]


def test_an_existing_task_is_not_replaced_without_force(tmp_path: Path) -> None:
    """The task and its cookie stay as they were; with --force they are replaced."""
    out = tmp_path / "task.yaml"
    out.write_text("mine\n")
    (tmp_path / "task.yaml.cookie").write_text("session=mine\n")
    done = import_curl(tmp_path, FIREFOX, "-o", str(out))
    assert done.exit_code == 2
    assert done.output.strip() == (
        f"sniper: -o: {out} and {out}.cookie already exist: give --force to replace"
    )
    assert (out.read_text(), (tmp_path / "task.yaml.cookie").read_text()) == (
        "mine\n",
        "session=mine\n",
    )
    forced = import_curl(tmp_path, FIREFOX, "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert "platform: http" in out.read_text()
    assert (tmp_path / "task.yaml.cookie").read_text().startswith("session=abc123")


def test_no_cookie_no_cookie_file_line(tmp_path: Path) -> None:
    """Without a cookie the task names no cookie file that does not exist, and says what to do."""
    out = tmp_path / "task.yaml"
    command = FIREFOX.replace("-H 'Cookie: session=abc123def456; device_id=xyz-789' ", "")
    done = import_curl(tmp_path, command, "-o", str(out), "--target-time", FUTURE)
    assert done.exit_code == 0, done.output
    assert "cookie_file" not in yaml.safe_load(out.read_text())
    assert not (tmp_path / "task.yaml.cookie").exists()
    assert "cookie none found" in done.output
    assert "warning: no cookie in the request: add cookie_file" in done.output


@pytest.mark.parametrize(
    ("command", "args", "warning"),
    [
        (
            "curl 'https://shop.example.com/item/1' -b 'session=s'",
            (),
            "warning: the request is a GET: it fetches a page and places no order",
        ),
        (FIREFOX, ("--sku-id", "42"), "warning: --sku-id 42 appears nowhere in the request"),
        (
            FIREFOX,
            ("--target-time", "2020-01-01T00:00:00+00:00"),
            "warning: --target-time 2020-01-01T00:00:00+00:00 is in the past",
        ),
        (FIREFOX, (), "warning: the request carries no request id: each of the 3 requests"),
    ],
)
def test_warnings(tmp_path: Path, command: str, args: tuple[str, ...], warning: str) -> None:
    """Written, but with a warning line for what looks wrong."""
    done = import_curl(tmp_path, command, "-o", str(tmp_path / "t.yaml"), *args)
    assert done.exit_code == 0, done.output
    assert warning in done.output


def test_the_stores_order_call_says_what_it_added(tmp_path: Path) -> None:
    """Our store's order call: {request_id} put in, and a note saying so."""
    command = (
        "curl 'http://127.0.0.1:8000/api/orders' -H 'content-type: application/json' "
        '-b \'session=s\' --data-raw \'{"sku_id":"eggs","qty":1}\''
    )
    done = import_curl(tmp_path, command, "-o", str(tmp_path / "t.yaml"), "--sku-id", "eggs")
    assert done.exit_code == 0, done.output
    assert (
        "note: this is the store's own order call: its body now carries "
        '"request_id": "{request_id}"' in done.output
    )
    assert "request id" not in done.output.replace("request_id", "")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            "curl http://127.0.0.1:8000/p -F a=1",
            "sniper: curl: option -F is not supported: multipart forms are not replayed",
        ),
        (
            "curl http://127.0.0.1:8000/p --url-query a -G",
            "sniper: curl: -G and --url-query together",
        ),
        (
            "curl http://127.0.0.1:8000/p -d @absent.txt",
            "sniper: curl: -d @absent.txt: cannot read absent.txt: No such file or directory",
        ),
        ("curl http://127.0.0.1:8000/p -d $X", "sniper: curl: $X is a shell expansion"),
    ],
)
def test_what_cannot_be_replayed_is_refused(tmp_path: Path, command: str, message: str) -> None:
    """Exit 2, one line naming the option, nothing written."""
    done = import_curl(tmp_path, command, "-o", "t.yaml")
    assert done.exit_code == 2, done.output
    assert done.output.splitlines() == [done.output.strip()]
    assert done.output.startswith(message)
    assert [p.name for p in tmp_path.rglob("*")] == ["order.curl"]


def test_files_the_command_names_are_read_from_here(tmp_path: Path) -> None:
    """-d @file and a Netscape cookie file, read from the current folder as curl would."""
    (tmp_path / "body.txt").write_text("a=1\nb=2\n")
    (tmp_path / "cookies.txt").write_text(
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tfrom-file\n"
        "127.0.0.1\tFALSE\t/other\tFALSE\t0\tnot\tsent\n"
    )
    command = "curl http://127.0.0.1:8000/buy -d @body.txt -b cookies.txt"
    done = import_curl(tmp_path, command, "-o", "t.yaml")
    assert done.exit_code == 0, done.output
    request = yaml.safe_load((tmp_path / "t.yaml").read_text())["request"]
    assert request["body"] == "a=1b=2"
    assert (tmp_path / "t.yaml.cookie").read_text() == "session=from-file\n"


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    """-u user:password becomes the task's Authorization header (a private file), and is in
    no line of the output."""
    command = "curl http://127.0.0.1:8000/buy -u 'me:hunter2' -d a=1"
    done = import_curl(tmp_path, command, "-o", "t.yaml")
    assert done.exit_code == 0, done.output
    headers = yaml.safe_load((tmp_path / "t.yaml").read_text())["request"]["headers"]
    assert headers["Authorization"] == "Basic bWU6aHVudGVyMg=="
    assert "hunter2" not in done.output
    assert "bWU6aHVudGVyMg" not in done.output
    assert (tmp_path / "t.yaml").stat().st_mode & 0o077 == 0
