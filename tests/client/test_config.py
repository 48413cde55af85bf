"""The task file: every field validated, layering, the cookie's sources and its secrecy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sniper.client.config import load_task, load_tasks, redact
from sniper.client.platforms import platform_class
from sniper.errors import ConfigError

GOOD = """\
platform: store
base_url: "http://127.0.0.1:8000"
cookie: "session=abcdefghijklmnop"
sku_id: "100234567"
target_time: "2024-04-15T07:00:00+08:00"
"""


def write(tmp_path: Path, text: str) -> Path:
    """A task file."""
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SNIPER_* variable of the machine leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("SNIPER_"):
            monkeypatch.delenv(name)


def test_defaults(tmp_path: Path) -> None:
    """The design's defaults."""
    task = load_task(write(tmp_path, GOOD))
    assert (task.qty, task.concurrency, task.preheat_ms, task.timeout_s) == (1, 3, 500, 5.0)
    assert (task.retry.window_s, task.retry.rate_per_s, task.retry.burst) == (10.0, 5.0, 5)
    assert (task.log_file, task.lang) == (tmp_path / "sniper.log", "en")  # beside the file
    assert task.target_ms == 1_713_135_600_000


def test_layering_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """defaults < file < SNIPER_* (``__`` nests) < flags."""
    path = write(tmp_path, GOOD + "concurrency: 4\nretry:\n  window_s: 5\n  burst: 2\n")
    monkeypatch.setenv("SNIPER_RETRY__WINDOW_S", "20")
    monkeypatch.setenv("SNIPER_CONCURRENCY", "6")
    task = load_task(path, {"concurrency": 8, "qty": None})
    assert task.concurrency == 8
    assert (task.retry.window_s, task.retry.burst) == (20.0, 2)
    assert task.qty == 1


def test_cookie_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SNIPER_COOKIE wins over the file."""
    monkeypatch.setenv("SNIPER_COOKIE", "session=from-env-1234567")
    assert load_task(write(tmp_path, GOOD)).cookie_value() == "session=from-env-1234567"


def test_cookie_from_file(tmp_path: Path) -> None:
    """cookie_file is read (and stripped) when there is no cookie."""
    (tmp_path / "me.cookie").write_text("session=from-file-123456\n")
    text = GOOD.replace('cookie: "session=abcdefghijklmnop"', f"cookie_file: {tmp_path}/me.cookie")
    assert load_task(write(tmp_path, text)).cookie_value() == "session=from-file-123456"


def test_cookie_file_from_a_higher_layer_beats_a_cookie_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNIPER_COOKIE_FILE (environment) wins over `cookie:` in the task file."""
    (tmp_path / "new.cookie").write_text("session=newer-cookie-value\n")
    monkeypatch.setenv("SNIPER_COOKIE_FILE", str(tmp_path / "new.cookie"))
    assert load_task(write(tmp_path, GOOD)).cookie_value() == "session=newer-cookie-value"


def test_cookie_never_in_repr(tmp_path: Path) -> None:
    """The parsed task does not show the cookie."""
    task = load_task(write(tmp_path, GOOD))
    assert "abcdefghijklmnop" not in repr(task)
    assert "abcdefghijklmnop" not in str(task.model_dump())


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("session=abcdefghijklmnop", "sess…(24 chars)"), ("short", "***(5 chars)")],
)
def test_redact(secret: str, shown: str) -> None:
    """At most the first four characters and the length."""
    assert redact(secret) == shown


def _validate_fully(path: Path) -> None:
    """What the CLI checks before sending anything: fields, cookie, platform."""
    task = load_task(path)
    task.cookie_value()
    platform_class(task.platform)


BAD: list[tuple[str, dict[str, Any] | str, str]] = [
    ("unknown-platform", {"platform": "meituan-ng"}, "platform: unknown"),
    ("no-offset", {"target_time": "2024-04-15T07:00:00"}, "target_time:"),
    ("unparseable-time", {"target_time": "tomorrow at 7"}, "target_time:"),
    ("unquoted-naive-time", "target_time: 2024-04-15 07:00:00", "target_time:"),
    ("negative-concurrency", {"concurrency": -1}, "concurrency:"),
    ("zero-concurrency", {"concurrency": 0}, "concurrency:"),
    ("huge-concurrency", {"concurrency": 1000}, "concurrency:"),
    ("negative-preheat", {"preheat_ms": -5}, "preheat_ms:"),
    ("zero-qty", {"qty": 0}, "qty:"),
    ("string-qty", {"qty": "many"}, "qty:"),
    ("negative-window", {"retry": {"window_s": -1}}, "retry.window_s:"),
    ("zero-rate", {"retry": {"rate_per_s": 0}}, "retry.rate_per_s:"),
    ("zero-burst", {"retry": {"burst": 0}}, "retry.burst:"),
    ("zero-timeout", {"timeout_s": 0}, "timeout_s:"),
    ("bad-lang", {"lang": "fr"}, "lang:"),
    ("bad-url", {"base_url": "ftp://x"}, "base_url:"),
    ("no-host", {"base_url": "http://"}, "base_url:"),
    ("empty-sku", {"sku_id": ""}, "sku_id:"),
    ("typo-field", {"concurency": 3}, "concurency: unknown field (did you mean concurrency?)"),
    (
        "typo-required-field",
        {"sku_id": None, "skuid": "1"},
        "skuid: unknown field (did you mean sku_id?)",
    ),
    (
        "typo-nested-field",
        {"retry": {"windw_s": 3}},
        "retry.windw_s: unknown field (did you mean window_s?)",
    ),
    (
        "typo-in-a-list",
        {"rules": {"sold_out": [{"regx": "x"}]}},
        "rules.sold_out.0.regx: unknown field (did you mean regex?)",
    ),
    (
        "typo-in-a-channel",
        {"notify": [{"type": "smtp", "host": "h", "form": "a", "to": []}]},
        "notify.0.smtp.form: unknown field (did you mean from?)",
    ),
    (
        "epoch-ms-time",
        {"target_time": 1713135600000},
        "target_time: must be RFC 3339 with an offset, e.g. 2024-04-15T07:00:00+08:00",
    ),
    ("http-without-request", {"platform": "http"}, "the http platform needs"),
    ("missing-cookie", {"cookie": None}, "cookie: missing"),
    ("cookie-line-break", {"cookie": "session=abc\nuid=7"}, "cookie: only printable ASCII"),
    ("bad-port", {"base_url": "http://127.0.0.1:99999"}, "base_url: has a bad port"),
    ("missing-ca-file", {"ca_file": "/nonexistent/ca.pem"}, "ca_file: /nonexistent/ca.pem is not"),
    (
        "bad-regex",
        {"rules": {"sold_out": [{"regex": "("}]}},
        "rules.sold_out.0.regex: regex does not",
    ),
    ("cookie-non-ascii", {"cookie": "session=abcé"}, "cookie: only printable ASCII"),
    (
        "http-header-final-line-break",
        {"platform": "http", "request": {"url": "http://x/o", "headers": {"X-A": "1\n"}}},
        "request.headers:",
    ),
    (
        "http-header-name-final-line-break",
        {"platform": "http", "request": {"url": "http://x/o", "headers": {"X-A\n": "1"}}},
        "request.headers:",
    ),
    (
        "http-header-line-break",
        {"platform": "http", "request": {"url": "http://x/o", "headers": {"X-A": "1\r\nEvil: 2"}}},
        "request.headers:",
    ),
    ("missing-cookie-file", {"cookie": None, "cookie_file": "/nonexistent/c"}, "cookie_file:"),
    (
        "sku-with-line-break-into-a-header",
        {
            "platform": "http",
            "sku_id": "eggs\r\nEvil: 1",
            "request": {"url": "http://x/o", "headers": {"X-Sku": "{sku_id}"}},
        },
        "sku_id: cannot go into header X-Sku (request.headers): printable ASCII only",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [pytest.param(c, e, id=i) for i, c, e in BAD])
def test_bad_field_is_one_line_naming_it(
    tmp_path: Path, change: dict[str, Any] | str, expected: str
) -> None:
    """Each bad value is a ConfigError whose message names the field."""
    import yaml

    data = yaml.safe_load(GOOD)
    if isinstance(change, str):
        text = "\n".join(ln for ln in GOOD.splitlines() if not ln.startswith("target_time"))
        path = write(tmp_path, text + "\n" + change + "\n")
    else:
        data.update(change)
        path = write(tmp_path, yaml.safe_dump({k: v for k, v in data.items() if v is not None}))
    with pytest.raises(ConfigError) as info:
        _validate_fully(path)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert "abcdefghijklmnop" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("[1, 2]", "must be a mapping"), ("a: [", "not valid YAML"), ("", "base_url: Field")],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    """Not YAML, not a mapping, or empty."""
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
        load_task(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An unclosed quote is noticed only at the end of the file: the line to fix is where
        # it opened.
        (
            GOOD.replace('"2024-04-15T07:00:00+08:00"', '"2024-04-15T07:00:00+08:00') + "qty: 1\n",
            "not valid YAML at line 5: while scanning a quoted scalar,"
            " found unexpected end of stream",
        ),
        (
            GOOD.replace("sku_id:", "  sku_id:"),
            "not valid YAML at line 4: expected <block end>,"
            " but found '<block mapping start>' (while parsing a block mapping from line 1)",
        ),
        (
            GOOD.replace('cookie: "session=abcdefghijklmnop"', "cookie: [session\n"),
            "not valid YAML at line 5: expected ',' or ']', but got ':'"
            " (while parsing a flow sequence from line 3)",
        ),
    ],
)
def test_yaml_errors_point_at_the_line_to_fix(tmp_path: Path, text: str, expected: str) -> None:
    """The line number is the file's line where the mistake is."""
    with pytest.raises(ConfigError) as info:
        load_task(write(tmp_path, text))
    assert str(info.value) == f"{tmp_path / 'task.yaml'}: {expected}"


class TestRelativePaths:
    """Paths in a task file are relative to that file; given by flag or environment, to the
    current directory."""

    def test_from_the_file_relative_to_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """cookie_file, log_file, ca_file, a channel's ca_file and file: secret, from /."""
        folder = tmp_path / "x"
        folder.mkdir()
        (folder / "me.cookie").write_text("session=relative-cookie-1234\n")
        (folder / "ca.pem").write_text("not really a certificate\n")
        (folder / "mail.pw").write_text("hunter2\n")
        text = GOOD.replace('cookie: "session=abcdefghijklmnop"', "cookie_file: me.cookie") + (
            "log_file: logs/s.log\nca_file: ca.pem\nnotify:\n"
            "  - {type: smtp, host: h, from: a@b.c, to: [a@b.c], ca_file: ca.pem,"
            " password: 'file:mail.pw'}\n"
        )
        (folder / "task.yaml").write_text(text)
        monkeypatch.chdir("/")
        task = load_task(folder / "task.yaml")
        assert task.cookie_value() == "session=relative-cookie-1234"
        assert (task.log_file, task.ca_file) == (folder / "logs/s.log", folder / "ca.pem")
        from sniper.client.notify import Smtp, secret

        [channel] = task.notify
        assert isinstance(channel, Smtp)
        assert channel.ca_file == folder / "ca.pem"
        assert channel.password is not None
        assert secret(channel.password, "password") == "hunter2"

    def test_every_task_of_a_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Top-level defaults and each entry of tasks: alike; absolute paths stay as they are."""
        (tmp_path / "a.cookie").write_text("session=aaaaaaaaaaaa\n")
        (tmp_path / "b.cookie").write_text("session=bbbbbbbbbbbb\n")
        path = tmp_path / "tasks.yaml"
        path.write_text(
            'platform: store\nbase_url: "http://127.0.0.1:8000"\nsku_id: "1"\n'
            'target_time: "2024-04-15T07:00:00+08:00"\nlog_file: s.log\ntasks:\n'
            "  - {name: a, cookie_file: a.cookie}\n"
            f"  - {{name: b, cookie_file: {tmp_path}/b.cookie, log_file: {tmp_path}/b/b.log}}\n"
        )
        monkeypatch.chdir("/")
        first, second = load_tasks(path)
        assert (first.cookie_value(), second.cookie_value()) == (
            "session=aaaaaaaaaaaa",
            "session=bbbbbbbbbbbb",
        )
        assert (first.log_file, second.log_file) == (tmp_path / "s.log", tmp_path / "b/b.log")

    def test_flag_and_environment_relative_to_the_current_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SNIPER_COOKIE_FILE and --log-file are the user's own words, read where they ran."""
        folder = tmp_path / "x"
        folder.mkdir()
        (tmp_path / "env.cookie").write_text("session=from-the-environment\n")
        (folder / "task.yaml").write_text(GOOD + "log_file: in-file.log\n")
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SNIPER_COOKIE_FILE", "env.cookie")
        task = load_task(folder / "task.yaml", {"log_file": Path("flag.log")})
        assert task.cookie_value() == "session=from-the-environment"
        assert task.log_file == Path("flag.log")


BASE = """\
platform: store
base_url: "http://127.0.0.1:8000"
cookie: "session=abcdefghijklmnop"
sku_id: "100234567"
"""


def test_an_instant_is_one_opening_as_ever(tmp_path: Path) -> None:
    task = load_task(write(tmp_path, GOOD))
    assert not task.openings.repeats
    assert task.opening == task.openings.once
    assert task.history_file == tmp_path / "sniper-history.jsonl"  # beside the file
    assert task.aim == "published"


@pytest.mark.parametrize(
    "fields",
    [
        'target_time: "07:00:00+08:00"\nrepeat: daily\n',
        'target_time: ["05:59:00", "08:29:00"]\ntz: Asia/Shanghai\nrepeat: weekdays\n',
        'target_time: "07:00:00Z"\ndates: [2024-04-15, "2024-04-16"]\n',
        'target_time: "07:00:00+08:00"\nrepeat: daily\nrepeat_until: ordered\naim: learned\n',
    ],
)
def test_times_of_day_repeat(tmp_path: Path, fields: str) -> None:
    """A time of day (or a list) with repeat or dates: a schedule, and no one instant until
    the task is run at an opening."""
    task = load_task(write(tmp_path, BASE + fields))
    assert task.openings.repeats
    assert task.target_time is None
    with pytest.raises(ValueError, match="one opening at a time"):
        task.opening  # noqa: B018
    after = datetime(2024, 4, 14, tzinfo=UTC)
    opening = task.openings.next_opening(after)
    assert opening is not None
    assert task.at(opening).target_ms == int(opening.timestamp() * 1000)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ('target_time: "07:00:00+08:00"\n', "target_time: a time of day needs repeat"),
        ('target_time: "07:00:00"\nrepeat: daily\n', "target_time: '07:00:00' needs an offset"),
        ('target_time: "07:00:00"\ntz: Mars/Base\nrepeat: daily\n', "tz: 'Mars/Base' is not"),
        ('target_time: "07:00:00Z"\nrepeat: hourly\n', "repeat: 'hourly' is not one of"),
        ('target_time: "07:00:00Z"\nrepeat: 1\n', "repeat: must be text"),
        ('target_time: "07:00:00Z"\ndates: 2024-04-15\n', "dates: must be a list"),
        ('target_time: "07:00:00Z"\ndates: ["15 April"]\n', "dates: each is a day"),
        ("target_time: 17:00:00\nrepeat: daily\n", "a time of day in quotes"),
        ("target_time: [1, 2]\nrepeat: daily\n", "target_time: must be RFC 3339"),
        ('target_time: "07:00:00Z"\nrepeat: daily\naim: guessed\n', "aim:"),
        ('target_time: "07:00:00Z"\nrepeat: daily\nopenings: 3\n', "openings: unknown field"),
        (
            'target_time: "2024-04-15T07:00:00+08:00"\nrepeat_until: ordered\n',
            "repeat_until: a single instant opens once",
        ),
        (
            'target_time: "2024-04-15T07:00:00+08:00"\ntz: Asia/Shanghai\n',
            "target_time: an instant opens once, alone and without tz",
        ),
    ],
)
def test_a_wrong_schedule_is_one_line(tmp_path: Path, fields: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_task(write(tmp_path, BASE + fields))
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_target_time_flag_makes_a_file_repeat(tmp_path: Path) -> None:
    """--target-time (and SNIPER_TARGET_TIME) may give a time of day too."""
    path = write(tmp_path, GOOD + "repeat: daily\n")
    with pytest.raises(ConfigError, match="is one instant: openings that repeat are times"):
        load_task(path)
    task = load_task(path, {"target_time": "06:00:00+08:00"})
    assert task.openings.repeats
