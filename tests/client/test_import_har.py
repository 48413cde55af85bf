"""``sniper import-har`` as a user meets it: the listing, the files it writes, and what it
refuses (exit 2, one line, nothing written or changed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from sniper.cli import cli
from sniper.client.config import load_task
from tests.client.test_har import HARS

FUTURE = "2099-04-15T07:00:00+08:00"
SECRETS = ("s3ss10n-abcdef123456", "c5rf-9f8e7d6c5b4a", "tk_8Hq2ZpL0x9wV")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own directory, with the HAR files copied in."""
    monkeypatch.chdir(tmp_path)
    for har in HARS.iterdir():
        shutil.copy(har, tmp_path / har.name)


def import_har(*args: str) -> Result:
    """Run ``sniper import-har ARGS``."""
    return CliRunner().invoke(cli, ["import-har", *args])


def files(tmp_path: Path) -> list[str]:
    """The names in ``tmp_path``, sorted."""
    return sorted(p.name for p in tmp_path.iterdir())


def test_lists_and_writes_nothing(tmp_path: Path) -> None:
    """Without --pick: one line per request, exit 0, no file written (even with -o)."""
    done = import_har("chrome.har", "-o", "task.yaml")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert len(lines) == 6
    assert lines[3] == "4  GET     200  https://shop.example.com/api/cart?sku=100234567&src=pc"
    assert files(tmp_path) == ["chrome.har", "firefox.har"]


def test_writes_the_flow_and_its_cookie(tmp_path: Path) -> None:
    """The task and cookie files, readable by their owner only; no secret on the terminal."""
    done = import_har(
        "chrome.har",
        *("--pick", "cart", "--pick", "5", "--pick", "submit"),
        *("--sku-id", "100234567", "--target-time", FUTURE),
    )
    assert done.exit_code == 0, done.output
    task = yaml.safe_load((tmp_path / "task.yaml").read_text())
    assert task["base_url"] == "https://shop.example.com"
    assert task["cookie_file"] == "task.yaml.cookie"
    assert (task["sku_id"], task["target_time"]) == ("100234567", FUTURE)
    assert [s["name"] for s in task["flow"]] == ["cart", "token", "submit"]
    assert task["flow"][2]["request"]["headers"]["x-token"] == "{token}"
    assert (tmp_path / "task.yaml.cookie").read_text() == "session=s3ss10n-abcdef123456\n"
    for name in ("task.yaml", "task.yaml.cookie"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert not any(secret in done.output for secret in SECRETS)
    assert "note: submit: body price is {price}" in done.output
    assert "note: every step but the last is a `before` step" in done.output
    loaded = load_task(tmp_path / "task.yaml")
    assert loaded.flow is not None
    assert [(s.name, s.when) for s in loaded.flow] == [
        ("cart", "before"),
        ("token", "before"),
        ("submit", "open"),
    ]
    assert loaded.cookie_value() == "session=s3ss10n-abcdef123456"


def test_long_values_stay_on_one_line(tmp_path: Path) -> None:
    """A User-Agent or a body is not folded across lines of the task file."""
    assert import_har("firefox.har", "--pick", "2", "--pick", "submit").exit_code == 0
    text = (tmp_path / "task.yaml").read_text()
    assert (
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\n"
        in text
    )
    assert 'body: \'{"cartId":"{cart_id}","skuId":"100234567"' in text


def test_no_cookie_is_a_warning(tmp_path: Path) -> None:
    """An open request without a cookie: no cookie file, no cookie_file line, a warning."""
    done = import_har("chrome.har", "--pick", "static/app")
    assert done.exit_code == 0, done.output
    assert "cookie_file" not in yaml.safe_load((tmp_path / "task.yaml").read_text())
    assert "warning: no cookie in the open request" in done.output
    assert files(tmp_path) == ["chrome.har", "firefox.har", "task.yaml"]


def test_an_existing_task_is_not_replaced_without_force(tmp_path: Path) -> None:
    """The task and its cookie stay as they were; with --force they are replaced."""
    (tmp_path / "task.yaml").write_text("mine\n")
    done = import_har("chrome.har", "--pick", "cart", "--pick", "submit")
    assert done.exit_code == 2
    assert done.output == "sniper: -o: task.yaml already exists: give --force to replace\n"
    assert (tmp_path / "task.yaml").read_text() == "mine\n"
    assert not (tmp_path / "task.yaml.cookie").exists()
    forced = import_har("chrome.har", "--pick", "cart", "--pick", "submit", "--force")
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load((tmp_path / "task.yaml").read_text())["platform"] == "http"


@pytest.mark.parametrize(
    ("har", "args", "message"),
    [
        ("bad.har", ("--pick", "1"), "sniper: har: not JSON"),
        ("bad.har", (), "sniper: har: not JSON"),
        ("empty.har", ("--pick", "1"), "sniper: har: not a HAR file (no log.entries)"),
        ("chrome.har", ("--pick", "9"), "sniper: --pick 9: no request number 9 (the HAR has 6)"),
        ("chrome.har", ("--pick", "/nowhere"), "sniper: --pick /nowhere: no request's URL"),
        (
            "firefox.har",
            ("--pick", "cart", "--pick", "preview", "--pick", "submit"),
            "sniper: --pick 4 (preview): the HAR holds no text of its answer",
        ),
        (
            "chrome.har",
            ("--pick", "cart", "--target-time", "tomorrow 7am"),
            "sniper: --target-time: must be RFC 3339 with an offset",
        ),
        (
            "chrome.har",
            ("--pick", "cart", "-o", "no/such/folder/task.yaml"),
            "sniper: -o: the folder no/such/folder does not exist",
        ),
    ],
)
def test_refused(tmp_path: Path, har: str, args: tuple[str, ...], message: str) -> None:
    """Exit 2, one line, no traceback, no file written."""
    (tmp_path / "bad.har").write_text("<html>not a HAR</html>")
    (tmp_path / "empty.har").write_text('{"log": {}}')
    before = files(tmp_path)
    done = import_har(har, *args)
    assert done.exit_code == 2, done.output
    assert done.output.splitlines() == [done.output.strip()]
    assert done.output.startswith(message)
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert files(tmp_path) == before


def test_missing_file(tmp_path: Path) -> None:
    """A HAR that is not there: exit 2 (click's own message)."""
    done = import_har("nowhere.har")
    assert done.exit_code == 2
    assert "nowhere.har" in done.output
