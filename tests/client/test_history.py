"""The history file: records appended one line each, read back; what is not a record skipped."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from sniper.client.history import Opening, append, read, read_history


def opening(**changes: object) -> Opening:
    """A record as the engine writes it after an ordered opening."""
    record = Opening(
        task="morning",
        shop="127.0.0.1:8000",
        sku_id="S1",
        opening="2026-12-01T07:00:00+08:00",
        opening_ms=1_796_079_600_000,
        aim_ms=0.0,
        result="ordered",
        order_id="20261201070000123",
        first_arrival_ms=1.2,
        first_not_started_ms=1.2,
        last_not_started_ms=140.5,
        first_open_ms=160.0,
        first_accepted_ms=160.0,
        sold_out_ms=420.25,
        late_ms=163.5,
        requests=6,
        detail="",
        written="2026-12-01T07:00:01+08:00",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


class TestRoundTrip:
    """What is appended is read back as it was written."""

    def test_records_read_back_in_order(self, tmp_path: Path) -> None:
        """Every field survives, oldest first; the file is created with its folder."""
        path = tmp_path / "state" / "history.jsonl"
        first = opening()
        second = opening(
            opening="2026-12-02T07:00:00+08:00",
            opening_ms=1_796_166_000_000,
            result="not_ordered",
            order_id=None,
            first_open_ms=None,
            first_accepted_ms=None,
            late_ms=None,
            detail="sold out",
        )
        append(path, first)
        append(path, second)
        assert read(path) == [first, second]

    def test_chinese_text_kept(self, tmp_path: Path) -> None:
        """A task named in Chinese is written as such (readable in the file) and read back."""
        path = tmp_path / "h.jsonl"
        append(path, opening(task="早上抢菜", detail="已售罄"))
        assert "早上抢菜" in path.read_text(encoding="utf-8")
        assert read(path)[0].task == "早上抢菜"

    def test_one_line_each_with_a_version(self, tmp_path: Path) -> None:
        """Each record is one JSON object on its own line, carrying the format's version."""
        path = tmp_path / "h.jsonl"
        append(path, opening())
        append(path, opening(task="evening"))
        lines = path.read_text().splitlines()
        assert [json.loads(line)["v"] for line in lines] == [1, 1]
        assert [json.loads(line)["task"] for line in lines] == ["morning", "evening"]

    def test_floats_rounded_to_microseconds(self, tmp_path: Path) -> None:
        """Instants are written to 3 decimals of a millisecond; integers stay integers."""
        path = tmp_path / "h.jsonl"
        append(path, opening(first_open_ms=150.123456789, aim_ms=12.00049, late_ms=3.00071))
        data = json.loads(path.read_text())
        assert data["first_open_ms"] == 150.123
        assert data["aim_ms"] == 12.0
        assert data["late_ms"] == 3.001
        assert data["opening_ms"] == 1_796_079_600_000
        assert isinstance(data["opening_ms"], int)
        assert read(path)[0].first_open_ms == 150.123

    def test_file_mode_0600(self, tmp_path: Path) -> None:
        """The file is its owner's alone, and an existing wider one is narrowed."""
        path = tmp_path / "h.jsonl"
        append(path, opening())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
        append(path, opening())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_unreadable_path_is_an_oserror(self, tmp_path: Path) -> None:
        """A missing file or a folder cannot be read: OSError, for the caller to word."""
        with pytest.raises(FileNotFoundError):
            read(tmp_path / "missing.jsonl")
        with pytest.raises(IsADirectoryError):
            read(tmp_path)


class TestTornAndForeign:
    """Lines that are not records are skipped and counted; appending goes on after them."""

    def test_torn_last_line_skipped(self, tmp_path: Path) -> None:
        """A process killed mid-write leaves half a line: the records before it are read."""
        path = tmp_path / "h.jsonl"
        append(path, opening())
        whole = opening(task="evening").to_json()
        with path.open("a") as handle:
            handle.write(whole[: len(whole) // 2])
        history = read_history(path)
        assert history.records == (opening(),)
        assert history.skipped == 1

    def test_append_after_a_torn_line_starts_a_new_line(self, tmp_path: Path) -> None:
        """The next record does not glue onto the torn one (which would lose both)."""
        path = tmp_path / "h.jsonl"
        append(path, opening())
        with path.open("a") as handle:
            handle.write('{"v":1,"task":"ev')
        append(path, opening(task="next"))
        lines = path.read_text().split("\n")
        assert lines[1] == '{"v":1,"task":"ev'
        assert json.loads(lines[2])["task"] == "next"
        assert [r.task for r in read(path)] == ["morning", "next"]
        assert read_history(path).skipped == 1

    def test_append_to_a_file_of_only_a_torn_line(self, tmp_path: Path) -> None:
        """A torn first line (the first write cut off) is also ended before the next record."""
        path = tmp_path / "h.jsonl"
        path.write_text('{"v":1')
        append(path, opening())
        assert read(path) == [opening()]

    @pytest.mark.parametrize(
        "line",
        [
            "not json at all",
            "[1, 2, 3]",
            '"a string"',
            "null",
            "[" * 100_000,
            '{"v": 2, "task": "a later format"}',
            '{"task": "no version"}',
            '{"v": 1, "task": "missing fields"}',
        ],
        ids=[
            "text",
            "array",
            "string",
            "null",
            "deeply-nested",
            "later-version",
            "no-version",
            "fields-missing",
        ],
    )
    def test_foreign_lines_skipped(self, tmp_path: Path, line: str) -> None:
        """A line that is not a record of this format is skipped; the others are read."""
        path = tmp_path / "h.jsonl"
        append(path, opening())
        with path.open("a") as handle:
            handle.write(line + "\n")
        append(path, opening(task="after"))
        history = read_history(path)
        assert [r.task for r in history.records] == ["morning", "after"]
        assert history.skipped == 1

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("task", 7),
            ("shop", None),
            ("sku_id", ["S1"]),
            ("opening", 1_796_079_600_000),
            ("result", True),
            ("opening_ms", "1796079600000"),
            ("opening_ms", 1.7e12),
            ("opening_ms", True),
            ("aim_ms", "0"),
            ("aim_ms", None),
            ("first_open_ms", "150"),
            ("late_ms", False),
            ("sold_out_ms", {"ms": 1}),
            ("order_id", 20261201),
            ("requests", "6"),
            ("requests", 6.0),
            ("detail", None),
            ("written", 0),
            ("first_open_ms", 10**400),  # float() of it overflows
            ("opening_ms", 10**20),  # no instant a clock can show
        ],
    )
    def test_ill_typed_lines_skipped(self, tmp_path: Path, field: str, value: object) -> None:
        """A hand-edited line whose field has the wrong type is not a record."""
        data = json.loads(opening().to_json())
        data[field] = value
        path = tmp_path / "h.jsonl"
        path.write_text(json.dumps(data) + "\n" + opening(task="good").to_json() + "\n")
        history = read_history(path)
        assert [r.task for r in history.records] == ["good"]
        assert history.skipped == 1

    @pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_instants_skipped(self, tmp_path: Path, word: str) -> None:
        """Python's JSON reads NaN and Infinity; they are no instants, and the line no record."""
        line = opening().to_json().replace('"first_open_ms":160.0', f'"first_open_ms":{word}')
        assert word in line
        path = tmp_path / "h.jsonl"
        path.write_text(line + "\n")
        assert read_history(path).skipped == 1

    def test_unknown_fields_ignored(self, tmp_path: Path) -> None:
        """A field this version does not know (added later, same version) does not lose the
        record."""
        data = json.loads(opening().to_json())
        data["extra"] = {"anything": 1}
        path = tmp_path / "h.jsonl"
        path.write_text(json.dumps(data) + "\n")
        assert read(path) == [opening()]

    def test_blank_lines_not_counted(self, tmp_path: Path) -> None:
        """An empty line (an editor's trailing newline) is not reported as skipped."""
        path = tmp_path / "h.jsonl"
        path.write_text("\n" + opening().to_json() + "\n\n")
        history = read_history(path)
        assert history.records == (opening(),)
        assert history.skipped == 0

    def test_bytes_that_are_not_utf8(self, tmp_path: Path) -> None:
        """Garbage bytes make their line foreign, not the file unreadable."""
        path = tmp_path / "h.jsonl"
        path.write_bytes(b"\xff\xfe\x00garbage\n" + opening().to_json().encode() + b"\n")
        history = read_history(path)
        assert history.records == (opening(),)
        assert history.skipped == 1


def test_the_last_bytes_only(tmp_path: Path) -> None:
    """Read from the file's end: the line cut at the start is not read as one."""
    path = tmp_path / "h.jsonl"
    for n in range(50):
        append(path, opening(task=f"t{n}"))
    size = len(opening(task="t49").to_json()) + 1
    tail = read_history(path, last_bytes=3 * size + size // 2)
    assert [r.task for r in tail.records] == ["t47", "t48", "t49"]
    assert tail.skipped == 0
    assert len(read_history(path, last_bytes=10**9).records) == 50
