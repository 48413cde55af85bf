"""The users file (CSV and JSON Lines), its caps and hostile values, and shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from sniper.bench.users import (
    MAX_BYTES,
    MAX_USERS,
    User,
    parse_shard,
    parse_users,
    read_users,
    shard,
)
from sniper.errors import ConfigError

TOKEN = "tok-SECRET-1234567890"


def _error(data: bytes, *, jsonl: bool | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_users(data, "users.csv", jsonl=jsonl)
    message = str(caught.value)
    assert "\n" not in message
    return message


class TestCsv:
    def test_rows_keep_their_index_line_and_values(self) -> None:
        """Each row: its user, token and cookie, its 0-based index and its line."""
        users = parse_users(b"user,token,cookie\nalice,t1,s=1\nbob,t2,\n", "u.csv")
        assert users.columns == {"user", "token", "cookie"}
        assert users.rows == (
            User(0, "alice", "t1", "s=1", line=2),
            User(1, "bob", "t2", None, line=3),
        )

    def test_header_is_trimmed_and_case_blind_and_blank_lines_are_skipped(self) -> None:
        """`User , Token` is the user and token columns; a blank line is no row."""
        users = parse_users(b"User , Token\r\n\r\n alice , t1 \r\nbob,t2\r\n", "u.csv")
        assert [(u.index, u.user, u.token, u.line) for u in users.rows] == [
            (0, "alice", "t1", 3),
            (1, "bob", "t2", 4),
        ]

    def test_a_byte_order_mark_is_not_part_of_the_first_column(self) -> None:
        """Excel's UTF-8 BOM before `user` is read away."""
        users = parse_users(b"\xef\xbb\xbfuser,cookie\nalice,s=1\n", "u.csv")
        assert users.columns == {"user", "cookie"}
        assert users.rows[0].user == "alice"

    def test_a_user_on_two_rows_is_kept_twice(self) -> None:
        """Two sessions of one buyer are two rows (how a bench catches a shop selling one buyer
        two units)."""
        users = parse_users(b"user,token\nalice,t1\nalice,t2\n", "u.csv")
        assert [(u.index, u.user, u.token) for u in users.rows] == [
            (0, "alice", "t1"),
            (1, "alice", "t2"),
        ]

    def test_user_alone_is_a_users_file(self) -> None:
        """An endpoint that takes the user's name alone needs no token or cookie column."""
        users = parse_users(b"user\nalice\n", "u.csv")
        assert users.columns == {"user"}

    def test_quoted_commas_and_unicode_names(self) -> None:
        """A quoted cell may hold a comma; a user name may be any text without control
        characters."""
        users = parse_users('user,cookie\n"王, 小明","a=1; b=2"\n'.encode(), "u.csv")
        assert users.rows[0].user == "王, 小明"
        assert users.rows[0].cookie == "a=1; b=2"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "users.csv: empty"),
        (b"  \n\n", "users.csv: empty"),
        (b"user,token\n", "users.csv: no users (only a header row)"),
        (b"user,token\n\n\n", "users.csv: no users"),
        (b"token,cookie\nt,c\n", "users.csv line 1: no user column"),
        (b"user,tokne\na,t\n", "line 1: unknown column 'tokne' (did you mean token?)"),
        (b"user,password\na,p\n", "line 1: unknown column 'password'"),
        (b"user;token\na;t\n", "separate the columns with commas"),
        (b"user,token,Token\na,t,t\n", "line 1: column token is given twice"),
        (b"user,token\na,t,extra\n", "line 2: 3 values, the header has 2 columns"),
        (b"user,token\nalice\n", "line 2: 1 values, the header has 2 columns"),
        (b"user,token\n,t\n", "line 2: user is empty"),
        (b"user,token\n   ,t\n", "line 2: user is empty"),
        (b'user,token\nbob,"x\r\nInjected: 1"\n', "line 2: token holds a line break"),
        (b'user,token\nbob,"x\ny"\n', "token holds a line break or a control character"),
        (b"user,token\nbob,a\tb\n", "line 2: token holds a line break or a control character"),
        (b"user,cookie\nbob,a\x7fb\n", "line 2: cookie holds a line break"),
        ("user,cookie\nbob,a\u2028b\n".encode(), "line 2: cookie holds a line break"),
        (b"user,token\nbob,a\x00b\n", "line 2: token holds a line break or a control"),
        (b'user,token\nbob,"t\n', "not valid CSV"),
        (b"user,token\nalice,t\nbob,\xff\xfe\n", "users.csv line 3: not UTF-8 text"),
        (b"user,token\nbob," + b"x" * 9000 + b"\n", "line 2: token is longer than 8192"),
    ],
)
def test_csv_mistakes(data: bytes, said: str) -> None:
    """Each mistake is one line naming the file and, where there is one, the line."""
    assert said in _error(data)


def test_a_10_mb_line_is_refused_with_its_line() -> None:
    """A 10 MB line (one cell, or many) is one line's error, not a hang or a traceback."""
    one_cell = b"user,token\nalice,t\nbob," + b"x" * 10_000_000 + b"\n"
    assert "users.csv line 3: not valid CSV: field larger than field limit" in _error(one_cell)
    many = b"user,token\n" + b"a," * 5_000_000 + b"\n"
    assert "line 2: 5000001 values, the header has 2 columns" in _error(many)
    jsonl = b'{"user":"a","token":"' + b"x" * 10_000_000 + b'"}\n'
    assert _error(jsonl) == "users.csv line 1: longer than 256 KiB"


def test_errors_never_show_a_value() -> None:
    """A token is a secret: an error about it names its line and column only."""
    message = _error(b"user,token\nbob," + TOKEN.encode() + b"\x01\n")
    assert TOKEN not in message
    assert message.startswith("users.csv line 2: token")


class TestJsonLines:
    def test_by_extension_or_by_its_first_character(self, tmp_path: Path) -> None:
        """`.jsonl` and `.ndjson` are JSON Lines; so is a file whose first character is `{`."""
        text = b'{"user": "alice", "token": "t1"}\n\n{"user": "bob", "token": null}\n'
        for name in ("u.jsonl", "u.ndjson", "u.txt"):
            (tmp_path / name).write_bytes(text)
            users = read_users(tmp_path / name)
            assert users.rows == (User(0, "alice", "t1", line=1), User(1, "bob", None, line=3))
            assert users.columns == {"user", "token"}

    def test_a_csv_file_is_csv_whatever_it_starts_with(self, tmp_path: Path) -> None:
        """`.csv` is never sniffed: its header row is read as one."""
        (tmp_path / "u.csv").write_bytes(b'{"user": "a"}\n')
        with pytest.raises(ConfigError, match="line 1: unknown column"):
            read_users(tmp_path / "u.csv")

    def test_the_columns_are_every_key_any_line_has(self) -> None:
        """A key on one line only is a column; the other lines have no value for it."""
        users = parse_users(b'{"user":"a"}\n{"user":"b","cookie":"s=1"}\n', "u.jsonl")
        assert users.columns == {"user", "cookie"}
        assert users.rows[0].cookie is None

    def test_a_byte_order_mark_before_the_first_object(self) -> None:
        """A BOM is read away before sniffing."""
        users = parse_users(b'\xef\xbb\xbf{"user":"a","token":"t"}\n', "u")
        assert users.rows[0].token == "t"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b'{"user":"a"}\n[1]\n', "line 2: must be a JSON object"),
        (b'{"user":"a"}\n{"user":\n', "line 2: not valid JSON"),
        (b'{"user":"a","tokn":"t"}\n', "line 1: unknown key 'tokn' (did you mean token?)"),
        (b'{"token":"t"}\n', "line 1: user is empty"),
        (b'{"user":""}\n', "line 1: user is empty"),
        (b'{"user":12}\n', "line 1: user must be text"),
        (b'{"user":"a","token":["t"]}\n', "line 1: token must be text"),
        (b'{"user":"a","token":"x\\r\\nSet: 1"}\n', "line 1: token holds a line break"),
        (b'{"user":"a\\u0000"}\n', "line 1: user holds a line break or a control character"),
        (b'{"user":"a"}\n{"user":"b\xe2\x80\xa8c"}\n', "line 2: user holds a line break"),
    ],
)
def test_json_lines_mistakes(data: bytes, said: str) -> None:
    """Each mistake is one line naming the file and the line."""
    assert said in _error(data, jsonl=True)


class TestCaps:
    def test_at_most_100000_users(self) -> None:
        """100,000 users are read; the 100,001st row is refused with its line."""
        rows = b"".join(b"u%d,t\n" % i for i in range(MAX_USERS))
        assert len(parse_users(b"user,token\n" + rows, "u.csv").rows) == MAX_USERS
        said = _error(b"user,token\n" + rows + b"one-more,t\n")
        assert said == f"users.csv line {MAX_USERS + 2}: more than 100,000 users"
        lines = b"".join(b'{"user":"u%d"}\n' % i for i in range(MAX_USERS + 1))
        assert _error(lines) == f"users.csv line {MAX_USERS + 1}: more than 100,000 users"

    def test_at_most_64_mib(self, tmp_path: Path) -> None:
        """A file past 64 MiB is refused before it is parsed."""
        path = tmp_path / "u.csv"
        with path.open("wb") as file:
            file.write(b"user\nalice\n")
            file.truncate(MAX_BYTES + 1)  # sparse: no 64 MiB written to the disk
        with pytest.raises(ConfigError, match=r"u\.csv: larger than 64 MiB"):
            read_users(path)

    def test_a_file_that_cannot_be_read(self, tmp_path: Path) -> None:
        """A missing file or a folder: the users field and why."""
        with pytest.raises(ConfigError, match=r"users: cannot read .*nope\.csv: No such file"):
            read_users(tmp_path / "nope.csv")
        with pytest.raises(ConfigError, match="users: cannot read"):
            read_users(tmp_path)


@pytest.mark.parametrize(
    ("text", "shard_"),
    [
        ("1/1", (1, 1)),
        ("1/2", (1, 2)),
        ("2/2", (2, 2)),
        (" 3/7 ", (3, 7)),
        ("1000/1000", (1000, 1000)),
    ],
)
def test_parse_shard(text: str, shard_: tuple[int, int]) -> None:
    """K/N with 1 ≤ K ≤ N ≤ 1000."""
    assert parse_shard(text) == shard_


@pytest.mark.parametrize(
    "text", ["", "1", "1/", "/2", "0/2", "3/2", "1/1001", "a/b", "1/2/3", "-1/2", "1.0/2", "½/2"]
)
def test_parse_shard_refuses(text: str) -> None:
    """Anything else is one line naming --shard."""
    with pytest.raises(ConfigError, match=r"^--shard: must be K/N with 1 ≤ K ≤ N ≤ 1000"):
        parse_shard(text)


def test_shards_take_every_nth_user_and_cover_everyone_once() -> None:
    """Shard K of N takes users K, K+N, K+2N… (1-based); the shards of one N cover every row
    exactly once, each keeping its index."""
    rows = parse_users(b"user\n" + b"".join(b"u%d\n" % i for i in range(23)), "u.csv").rows
    assert [u.index for u in shard(rows, 2, 5)] == [1, 6, 11, 16, 21]
    for n in range(1, 30):
        taken = [u for k in range(1, n + 1) for u in shard(rows, k, n)]
        assert sorted(u.index for u in taken) == list(range(23))
        assert all(u.user == f"u{u.index}" for u in taken)
    assert shard(rows, 1, 1) == list(rows)
    with pytest.raises(ValueError, match="shard 3/2"):
        shard(rows, 3, 2)
