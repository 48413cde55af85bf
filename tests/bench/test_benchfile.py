"""The bench file: its fields, their mistakes, and the placeholders its users file must fill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sniper.bench.benchfile import load_bench
from sniper.client.config import ClockConfig
from sniper.client.connection import Origin
from sniper.errors import ConfigError

USERS = "user,token\nalice,t-alice\nbob,t-bob\n"


def _design_example() -> dict[str, Any]:
    """The bench file DESIGN.md shows."""
    return {
        "request": {
            "method": "POST",
            "url": "http://127.0.0.1:9000/seckill",
            "headers": {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
            "body": '{"user":"{user}","sku":"S1","rid":"{request_id}"}',
        },
        "rules": {
            "success_status": [200],
            "order_id": [{"json": "order"}],
            "sold_out": [{"json": "err", "equals": "sold_out"}],
        },
        "users": "users.csv",
        "stock": 100,
        "count": {"url": "http://127.0.0.1:9000/count?sku=S1", "json": "sold"},
        "clock": {"url": "http://127.0.0.1:9000/time", "json": "now_ms", "unit": "ms"},
    }


def _write(
    folder: Path, fields: dict[str, Any], users: str = USERS, users_name: str = "users.csv"
) -> Path:
    (folder / users_name).write_text(users)
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(fields, allow_unicode=True))
    return path


def _changed(change: dict[str, Any]) -> dict[str, Any]:
    """The example with ``change`` applied: dotted keys reach into mappings, None removes."""
    fields = _design_example()
    for dotted, value in change.items():
        *parents, key = dotted.split(".")
        node = fields
        for parent in parents:
            node = node[parent]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return fields


def _refused(folder: Path, fields: dict[str, Any], users: str = USERS) -> str:
    with pytest.raises(ConfigError) as caught:
        load_bench(_write(folder, fields, users))
    message = str(caught.value)
    assert "\n" not in message
    return message


class TestLoad:
    def test_the_design_example(self, tmp_path: Path) -> None:
        """Every field of DESIGN.md's example, read as written."""
        bench = load_bench(_write(tmp_path, _design_example()))
        assert bench.file.stock == 100
        assert bench.file.rules.success_status == [200]
        assert bench.file.count is not None
        assert bench.file.count.json_path == "sold"
        assert bench.file.clock == ClockConfig(
            url="http://127.0.0.1:9000/time", json="now_ms", unit="ms"
        )
        assert bench.origin == Origin("http", "127.0.0.1", 9000)
        assert [(u.index, u.user) for u in bench.users.rows] == [(0, "alice"), (1, "bob")]

    def test_only_request_users_and_stock_are_needed(self, tmp_path: Path) -> None:
        """Rules default to the http platform's; count and clock are optional."""
        fields = _changed({"rules": None, "count": None, "clock": None, "stock": 0})
        bench = load_bench(_write(tmp_path, fields))
        assert bench.file.rules.order_id[0].json_path == "order_id"
        assert bench.file.count is None
        assert bench.file.clock is None
        assert bench.file.stock == 0

    def test_the_users_file_is_found_beside_the_bench_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`users: users.csv` is the bench file's neighbour, wherever the command runs."""
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        folder = tmp_path / "sale"
        folder.mkdir()
        assert len(load_bench(_write(folder, _design_example())).users.rows) == 2

    def test_an_absolute_users_path(self, tmp_path: Path) -> None:
        """An absolute path is taken as it is."""
        other = tmp_path / "other"
        other.mkdir()
        (other / "people.jsonl").write_text('{"user":"carol","token":"t"}\n')
        fields = _changed({"users": str(other / "people.jsonl")})
        assert load_bench(_write(tmp_path, fields)).users.rows[0].user == "carol"

    def test_count_and_clock_may_be_on_other_origins(self, tmp_path: Path) -> None:
        """The count and the clock may live on another host, port or scheme."""
        fields = _changed(
            {
                "count.url": "https://admin.example.com:8443/count",
                "clock.url": "http://127.0.0.1:9001/time",
            }
        )
        bench = load_bench(_write(tmp_path, fields))
        assert bench.origin == Origin("http", "127.0.0.1", 9000)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"request": None}, "request: Field required"),
        ({"request": "POST /x"}, "request: Input should be a valid dictionary"),
        ({"request.url": None}, "request.url: Field required"),
        ({"request.url": "ftp://127.0.0.1/x"}, "request.url: must be an http:// or https:// URL"),
        ({"request.url": "/seckill"}, "request.url: must be an http:// or https:// URL"),
        ({"request.url": "http://127.0.0.1:99999/x"}, "request.url: has a bad port"),
        ({"request.url": "http://127.0.0.1/a b"}, "request.url: must be a URL without spaces"),
        (
            {"request.url": "http://{user}.shop.test/x"},
            "request.url: the host and port cannot hold a placeholder",
        ),
        ({"request.url": "http://u:p@127.0.0.1/x"}, "request.url: must not hold a user"),
        ({"request.url": "http://127.0.0.1/{sku_id}"}, "request.url: {sku_id} has no value"),
        ({"request.method": "PO ST"}, "request.method: String should match pattern"),
        ({"request.headers": {"X-A": "a\r\nb"}}, "request.headers: header 'X-A' is not valid"),
        ({"request.headers": {"Host": "a"}}, "request.headers: Host is written by the connection"),
        ({"request.headers": {"content-length": "3"}}, "content-length is written by"),
        ({"request.headers": {"X-Q": "{qty}"}}, "request.headers: X-Q: {qty} has no value"),
        ({"request.body": '{"t":{now_ms}}'}, "request.body: {now_ms} has no value in a bench"),
        # A misspelt placeholder would go out as literal braces: caught, with the name meant.
        (
            {"request.headers": {"Authorization": "Bearer {Token}"}},
            "request.headers: Authorization: {Token} is no placeholder: did you mean {token}?",
        ),
        ({"request.body": '{"r":"{requestid}"}'}, "did you mean {request_id}?"),
        ({"request.url": "http://127.0.0.1/b?u={usr}"}, "did you mean {user}?"),
        ({"request.timeout": 3}, "request.timeout: unknown field"),
        ({"rules.sold_out": [{"regex": "("}]}, "rules.sold_out.0.regex: regex does not compile"),
        ({"rules.sold_out": [{"json": "a", "regex": "b"}]}, 'give one of "json" or "regex"'),
        ({"rules.sold": []}, "rules.sold: unknown field (did you mean sold_out?)"),
        ({"users": None}, "users: Field required"),
        ({"users": ""}, "users: String should have at least 1 character"),
        ({"users": "nope.csv"}, "users: no file"),
        ({"stock": None}, "stock: Field required"),
        ({"stock": -1}, "stock: Input should be greater than or equal to 0"),
        ({"stock": "100"}, "stock: Input should be a valid integer"),
        ({"stock": True}, "stock: Input should be a valid integer"),
        ({"stock": 1.5}, "stock: Input should be a valid integer"),
        ({"count": "http://x/count"}, "count: Input should be a valid dictionary"),
        ({"count.url": "file:///etc/passwd"}, "count.url: must be an http:// or https:// URL"),
        ({"count.json": None}, "count.json: Field required"),
        ({"count.json": "a..b"}, "count.json: must be a dotted path"),
        ({"count.method": "POST"}, "count.method: unknown field"),
        ({"clock.url": "127.0.0.1:9000/time"}, "clock.url: must be an http:// or https:// URL"),
        ({"clock.unit": "us"}, "clock.unit: Input should be 'ms' or 's'"),
        ({"stok": 1}, "stok: unknown field (did you mean stock?)"),
    ],
)
def test_each_mistake_names_its_field(tmp_path: Path, change: dict[str, Any], said: str) -> None:
    """Every mistake is one line: the file, the field, what is wrong."""
    message = _refused(tmp_path, _changed(change))
    assert message.startswith(str(tmp_path / "bench.yaml") + ": ") or "cannot read" in message
    assert said in message


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    """A YAML list, or broken YAML, is said with the file's name."""
    path = tmp_path / "bench.yaml"
    path.write_text("- request\n")
    with pytest.raises(ConfigError, match=r"bench\.yaml: must be a mapping of fields"):
        load_bench(path)
    path.write_text("request: {url: [\n")
    with pytest.raises(ConfigError, match=r"bench\.yaml: not valid YAML at line"):
        load_bench(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_bench(tmp_path / "none.yaml")


class TestPlaceholdersAndUsers:
    def test_a_placeholder_without_its_column(self, tmp_path: Path) -> None:
        """`{token}` with a users file of cookies: the field that needs it and what the file
        has."""
        message = _refused(tmp_path, _design_example(), users="user,cookie\na,s=1\n")
        assert message.endswith(
            "bench.yaml: request.headers.Authorization: {token} needs a token column in "
            f"{tmp_path / 'users.csv'} (it has user, cookie)"
        )

    def test_cookie_placeholder_without_a_cookie_column(self, tmp_path: Path) -> None:
        """`{cookie}` in the body with no cookie column."""
        fields = _changed({"request.body": '{"c":"{cookie}","t":"{token}"}'})
        message = _refused(tmp_path, fields)
        assert "request.body: {cookie} needs a cookie column" in message

    def test_a_row_without_the_value(self, tmp_path: Path) -> None:
        """A row whose token cell is empty: the users file's line and the field."""
        message = _refused(tmp_path, _design_example(), users="user,token\na,t\nb,\n")
        assert message == (
            f"{tmp_path / 'users.csv'} line 3: no token, and request.headers.Authorization "
            "needs one"
        )

    def test_a_row_without_the_cookie_the_cookie_header_needs(self, tmp_path: Path) -> None:
        """A cookie column sent as the Cookie header: every row needs its cookie."""
        fields = _changed({"request.headers": {}, "request.body": '{"u":"{user}"}'})
        message = _refused(tmp_path, fields, users="user,cookie\na,s=1\nb,\n")
        assert message.endswith("line 3: no cookie, and the Cookie header needs one")

    def test_a_value_that_cannot_go_into_its_header(self, tmp_path: Path) -> None:
        """A user name in a header must be printable ASCII; in a JSON body it may be any text."""
        fields = _changed({"request.headers": {"X-User": "{user}"}})
        message = _refused(tmp_path, fields, users="user,token\n王小明,t\n")
        assert message.endswith(
            "users.csv line 2: user cannot go into request.headers.X-User (only printable "
            "ASCII can go into an HTTP header)"
        )
        fields = _changed({"request.headers": {}})
        assert load_bench(_write(tmp_path, fields, "user\n王小明\n")).users.rows[0].user == "王小明"

    def test_unused_columns_and_literal_braces_are_fine(self, tmp_path: Path) -> None:
        """A token column no placeholder takes is unused; braces around unknown names are the
        body's own text."""
        fields = _changed(
            {"request.headers": {}, "request.body": '{"a":{"b":"{not_ours}"},"u":"{user}"}'}
        )
        bench = load_bench(_write(tmp_path, fields))
        call = bench.call(bench.users.rows[0], "r-0")
        assert call.body == b'{"a":{"b":"{not_ours}"},"u":"alice"}'

    def test_no_secret_in_the_messages(self, tmp_path: Path) -> None:
        """A hostile token is refused by its line, never shown."""
        secret = "sk-live-0123456789abcdef"
        message = _refused(tmp_path, _design_example(), users=f'user,token\na,"{secret}\r\n"\n')
        assert secret not in message
        assert "line 2: token holds a line break" in message
