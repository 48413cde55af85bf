"""``sniper history``: the rows and summaries read off the records, and the command as a user
runs it on a history file."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sniper.cli import cli
from sniper.client import historyview as view
from sniper.client.history import Opening, append
from sniper.client.historyshow import fonts

DAY_MS = 86_400_000
#: 2026-12-01T07:00:00+08:00
FIRST_MS = 1_796_079_600_000


def record(day: int = 0, **changes: object) -> Opening:
    """An ordered morning opening ``day`` days after the first: the shop answered not_started
    until +140 ms and was open at +160 ms."""
    base = Opening(
        task="morning",
        shop="127.0.0.1:8000",
        sku_id="S1",
        opening=f"2026-12-{1 + day:02d}T07:00:00+08:00",
        opening_ms=FIRST_MS + day * DAY_MS,
        aim_ms=0.0,
        result="ordered",
        order_id=f"202612{1 + day:02d}0700001",
        first_arrival_ms=1.5,
        first_not_started_ms=1.5,
        last_not_started_ms=140.0,
        first_open_ms=160.0,
        first_accepted_ms=160.0,
        sold_out_ms=400.0,
        late_ms=163.0,
        requests=5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


NOT_ORDERED: dict[str, Any] = {"result": "not_ordered", "order_id": None, "late_ms": None}


class TestObservedOpening:
    """When the shop opened as we saw it, and how the table says it."""

    @pytest.mark.parametrize(
        ("last_not_started", "first_open", "seen", "text"),
        [
            (140.0, 160.0, 150.0, "+150.0 ms"),
            (-5.0, -1.0, -3.0, "-3.0 ms"),
            (0.2, 0.3, 0.25, "+0.2 ms"),
            (None, 0.8, 0.8, "≤ +0.8 ms"),
            (None, -12.0, -12.0, "≤ -12.0 ms"),
            (140.0, None, None, "—"),
            (None, None, None, "—"),
        ],
    )
    def test_table(
        self,
        last_not_started: float | None,
        first_open: float | None,
        seen: float | None,
        text: str,
    ) -> None:
        """Between the last not_started and the first open answer; the first open answer alone
        bounds it from above; never seen open, none."""
        r = record(last_not_started_ms=last_not_started, first_open_ms=first_open)
        assert view.observed_opening(r) == seen
        assert view.opened(r) == text


class TestLateness:
    """Our lateness: the order's answer, else the first arrival."""

    @pytest.mark.parametrize(
        ("late", "first_arrival", "expected"),
        [(163.0, 1.5, 163.0), (None, 1.5, 1.5), (None, -850.0, -850.0), (None, None, None)],
    )
    def test_table(
        self, late: float | None, first_arrival: float | None, expected: float | None
    ) -> None:
        """Ordered: when the order came back; not ordered: when we first got there."""
        r = record(late_ms=late, first_arrival_ms=first_arrival)
        assert view.lateness(r) == expected


class TestSelect:
    """Which openings are shown, in which order."""

    def test_by_published_opening(self) -> None:
        """Records come out by their opening, not by when they were written."""
        records = [record(2), record(0), record(1)]
        assert [r.opening_ms for r in view.select(records, task=None, last=None)] == [
            FIRST_MS,
            FIRST_MS + DAY_MS,
            FIRST_MS + 2 * DAY_MS,
        ]

    def test_task_and_last(self) -> None:
        """--task keeps that task's; --last the newest N of those."""
        records = [record(d) for d in range(4)] + [record(1, task="evening")]
        chosen = view.select(records, task="morning", last=2)
        assert [(r.task, r.opening_ms) for r in chosen] == [
            ("morning", FIRST_MS + 2 * DAY_MS),
            ("morning", FIRST_MS + 3 * DAY_MS),
        ]
        assert view.select(records, task="evening", last=5) == [records[-1]]
        assert view.select(records, task="nobody", last=None) == []


class TestTable:
    """One row per opening, in English or Chinese."""

    def test_english_row(self) -> None:
        """Every column of an ordered opening."""
        table = view.table([record(aim_ms=131.25)], "en")
        assert table.headers == (
            "opening (UTC+08:00)",
            "task",
            "result",
            "aim",
            "shop opened",
            "sold out",
            "first arrival",
            "lateness",
            "order id",
        )
        assert table.rows == (
            (
                "2026-12-01 07:00:00",
                "morning",
                "ordered",
                "+131.2 ms",
                "+150.0 ms",
                "+400.0 ms",
                "+1.5 ms",
                "+163.0 ms",
                "202612010700001",
            ),
        )

    def test_chinese(self) -> None:
        """Headers and results in the console's Chinese words."""
        rows = [record(0), record(1, **NOT_ORDERED), record(2, result="auth_failed")]
        table = view.table(rows, "zh")
        assert table.headers[0] == "开抢时间(UTC+08:00)"
        assert table.headers[-1] == "订单号"
        assert [row[2] for row in table.rows] == ["下单成功", "未下单", "认证失败"]

    @pytest.mark.parametrize(
        ("result", "en", "zh"),
        [
            ("ordered", "ordered", "下单成功"),
            ("not_ordered", "not ordered", "未下单"),
            ("auth_failed", "auth failed", "认证失败"),
            ("bad_task", "bad task", "任务有误"),
            ("fatal", "fatal", "意外错误"),
            ("interrupted", "interrupted", "已中断"),
            ("a_later_result", "a_later_result", "a_later_result"),
        ],
    )
    def test_every_result_in_words(self, result: str, en: str, zh: str) -> None:
        """Each result the engine writes reads as words; one not known as it is."""
        assert view.table([record(result=result)], "en").rows[0][2] == en
        assert view.table([record(result=result)], "zh").rows[0][2] == zh

    def test_not_ordered_and_never_open(self) -> None:
        """What was not seen is a dash; lateness is then the first arrival."""
        r = record(
            **NOT_ORDERED,
            first_open_ms=None,
            first_accepted_ms=None,
            sold_out_ms=None,
            first_arrival_ms=-850.0,
        )
        assert view.table([r], "en").rows[0][3:] == (
            "+0.0 ms",
            "—",
            "—",
            "-850.0 ms",
            "-850.0 ms",
            "—",
        )

    def test_offsets_that_differ_go_in_the_rows(self) -> None:
        """Across a daylight-saving change the offset is written on each row."""
        winter = record(opening="2026-03-28T07:00:00+01:00", opening_ms=1_774_677_600_000)
        summer = record(opening="2026-03-29T07:00:00+02:00", opening_ms=1_774_760_400_000)
        table = view.table([winter, summer], "en")
        assert table.headers[0] == "opening"
        assert [row[0] for row in table.rows] == [
            "2026-03-28 07:00:00 +01:00",
            "2026-03-29 07:00:00 +02:00",
        ]

    @pytest.mark.parametrize(
        ("written", "shown"),
        [
            ("2026-12-01T08:29:00.500+08:00", "2026-12-01 08:29:00.500"),
            ("2026-12-01T05:59:00Z", "2026-12-01 05:59:00"),
            ("2026-12-01T05:59:00-05:30", "2026-12-01 05:59:00"),
        ],
    )
    def test_opening_as_written(self, written: str, shown: str) -> None:
        """The opening in its own offset, with milliseconds when it has them."""
        table = view.table([record(opening=written)], "en")
        assert table.rows[0][0] == shown
        assert table.headers[0].startswith("opening (UTC")

    def test_utc_and_negative_offsets_in_the_header(self) -> None:
        """Z reads as +00:00; a negative offset keeps its sign and minutes."""
        assert view.table([record(opening="2026-12-01T05:59:00Z")], "en").headers[0] == (
            "opening (UTC+00:00)"
        )
        west = view.table([record(opening="2026-12-01T05:59:00-05:30")], "en")
        assert west.headers[0] == "opening (UTC-05:30)"

    def test_opening_not_a_time_shown_as_it_is(self) -> None:
        """A hand-edited opening that is no RFC 3339 time is shown, not fatal."""
        table = view.table([record(opening="tomorrow\x1b[2J"), record(1)], "en")
        assert table.headers[0] == "opening"
        assert [row[0] for row in table.rows] == ["tomorrow[2J", "2026-12-02 07:00:00 +08:00"]

    def test_control_characters_removed(self) -> None:
        """Text from the file cannot drive the terminal."""
        row = view.table([record(task="a\x1b]0;x\x07b", order_id="o\r1")], "en").rows[0]
        assert row[1] == "a]0;xb"
        assert row[-1] == "o1"


class TestSummary:
    """The line under the table and the summary per task, shop and item."""

    @pytest.mark.parametrize(
        ("lang", "skipped", "line"),
        [
            ("en", 0, "3 opening(s), 2 ordered"),
            ("en", 2, "3 opening(s), 2 ordered; 2 line(s) skipped (torn, or not a record)"),
            ("zh", 0, "共 3 次开抢,2 次下单成功"),
            ("zh", 1, "共 3 次开抢,2 次下单成功;跳过 1 行(写了一半,或不是记录)"),
        ],
    )
    def test_line(self, lang: str, skipped: int, line: str) -> None:
        """Openings, orders, and the lines skipped only when there are some."""
        records = [record(0), record(1, **NOT_ORDERED), record(2)]
        assert view.summary_line(records, skipped, lang) == line

    def test_figures(self) -> None:
        """Median, min and max of the shop's opening over the openings it was seen in; our
        lateness median over every opening we arrived at."""
        records = [
            record(0, last_not_started_ms=140.0, first_open_ms=160.0, late_ms=163.0),
            record(1, last_not_started_ms=None, first_open_ms=130.0, late_ms=131.0),
            record(2, **NOT_ORDERED, first_open_ms=None, first_arrival_ms=-2.0),
            record(3, last_not_started_ms=150.0, first_open_ms=152.0, late_ms=155.0),
        ]
        assert view.summaries(records) == [
            {
                "task": "morning",
                "shop": "127.0.0.1:8000",
                "sku_id": "S1",
                "openings": 4,
                "ordered": 3,
                "opened_seen": 3,
                "opened_median_ms": 150.0,
                "opened_min_ms": 130.0,
                "opened_max_ms": 151.0,
                "lateness_median_ms": 143.0,
            }
        ]

    def test_one_per_task_shop_and_item(self) -> None:
        """Each task, shop and item apart, in the order first met; never seen open: None."""
        records = [
            record(0),
            record(0, sku_id="S2", first_open_ms=None, late_ms=None, first_arrival_ms=None),
            record(1),
            record(0, shop="other:443"),
        ]
        summaries = view.summaries(records)
        assert [(s["shop"], s["sku_id"], s["openings"]) for s in summaries] == [
            ("127.0.0.1:8000", "S1", 2),
            ("127.0.0.1:8000", "S2", 1),
            ("other:443", "S1", 1),
        ]
        never = summaries[1]
        assert never["opened_seen"] == 0
        assert never["opened_median_ms"] is None
        assert never["opened_min_ms"] is None
        assert never["lateness_median_ms"] is None

    def test_rounded(self) -> None:
        """Figures to a microsecond, as the file has them."""
        summary = view.summaries([record(last_not_started_ms=0.1235, first_open_ms=0.2)])[0]
        assert summary["opened_median_ms"] == 0.162

    def test_document(self) -> None:
        """--json: the records as read, the lines skipped, the summaries."""
        doc = view.document([record()], 3)
        assert set(doc) == {"records", "skipped", "summary"}
        assert doc["records"][0]["order_id"] == "202612010700001"
        assert doc["skipped"] == 3
        assert doc["summary"][0]["openings"] == 1


class TestFonts:
    """The figure's fonts: a CJK one for Chinese task names, when the machine has one."""

    def test_present_cjk_fonts_follow(self) -> None:
        """Those present, in preference order, after matplotlib's own."""
        have = {"SimHei", "Arial", "Noto Sans CJK SC", "DejaVu Sans"}
        assert fonts(have) == ["DejaVu Sans", "Noto Sans CJK SC", "SimHei"]

    def test_none_present(self) -> None:
        """None named that is absent (matplotlib would log each as not found)."""
        assert fonts({"DejaVu Sans"}) == ["DejaVu Sans"]


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    """Three mornings (two orders), one evening of another task, and a torn last line."""
    path = tmp_path / "history.jsonl"
    append(path, record(0))
    append(path, record(1, **NOT_ORDERED))
    append(path, record(2, last_not_started_ms=None, first_open_ms=143.4))
    append(
        path,
        record(
            1,
            task="evening",
            opening="2026-12-02T20:30:00+08:00",
            opening_ms=FIRST_MS + DAY_MS + 48_600_000,
            result="auth_failed",
            order_id=None,
            late_ms=None,
            first_open_ms=None,
        ),
    )
    with path.open("a") as handle:
        handle.write('{"v":1,"task":"morn')
    return path


def sniper_history(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["history", *map(str, args)])


class TestCommand:
    """``sniper history FILE`` as a user runs it."""

    def test_table(self, history_file: Path) -> None:
        """A header, one line per opening by date, the summary under it."""
        result = sniper_history(history_file)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].split() == [
            *("opening", "(UTC+08:00)", "task", "result", "aim", "shop", "opened", "sold"),
            *("out", "first", "arrival", "lateness", "order", "id"),
        ]
        assert set(lines[1]) == {"─"}
        assert lines[2].split() == [
            *("2026-12-01", "07:00:00", "morning", "ordered", "+0.0", "ms", "+150.0", "ms"),
            *("+400.0", "ms", "+1.5", "ms", "+163.0", "ms", "202612010700001"),
        ]
        assert "not ordered" in lines[3]
        assert "2026-12-02 20:30:00   evening   auth failed" in lines[4]
        assert "≤ +143.4 ms" in lines[5]
        assert lines[6:] == [
            "",
            "4 opening(s), 2 ordered; 1 line(s) skipped (torn, or not a record)",
        ]
        assert all(line == line.rstrip() for line in lines)

    def test_chinese(self, history_file: Path) -> None:
        """--lang zh: Chinese headers, results and summary."""
        result = sniper_history(history_file, "--lang", "zh")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("开抢时间(UTC+08:00)")
        assert "下单成功" in result.stdout
        assert "未下单" in result.stdout
        assert result.stdout.rstrip().endswith(
            "共 4 次开抢,2 次下单成功;跳过 1 行(写了一半,或不是记录)"
        )

    def test_not_cut_on_a_narrow_screen(self, history_file: Path) -> None:
        """Off a terminal rich would cut at 80 columns: order ids and times stay whole."""
        result = CliRunner(env={"COLUMNS": "40"}).invoke(cli, ["history", str(history_file)])
        assert "202612010700001" in result.stdout
        assert "…" not in result.stdout

    def test_json(self, history_file: Path) -> None:
        """--json: one JSON document, the records by opening and a summary per task."""
        result = sniper_history(history_file, "--json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert set(doc) == {"records", "skipped", "summary"}
        assert [r["task"] for r in doc["records"]] == ["morning", "morning", "evening", "morning"]
        assert doc["skipped"] == 1
        assert set(doc["records"][0]) >= {"opening", "result", "first_open_ms", "late_ms"}
        morning, evening = doc["summary"]
        assert (morning["task"], morning["openings"], morning["ordered"]) == ("morning", 3, 2)
        assert morning["opened_median_ms"] == 150.0
        assert morning["opened_min_ms"] == 143.4
        assert (evening["task"], evening["opened_seen"]) == ("evening", 0)

    def test_task_and_last(self, history_file: Path) -> None:
        """--task NAME --last N: that task's newest N openings."""
        result = sniper_history(history_file, "--task", "morning", "--last", "2", "--json")
        doc = json.loads(result.stdout)
        assert [r["opening"][:10] for r in doc["records"]] == ["2026-12-02", "2026-12-03"]
        assert doc["summary"][0]["openings"] == 2
        table = sniper_history(history_file, "--task", "evening")
        assert "evening" in table.stdout
        assert "morning" not in table.stdout
        assert "1 opening(s), 0 ordered" in table.stdout

    def test_last_must_be_positive(self, history_file: Path) -> None:
        """--last 0 is a usage error."""
        assert sniper_history(history_file, "--last", "0").exit_code == 2

    def test_plot(self, history_file: Path, tmp_path: Path) -> None:
        """--plot writes a PNG beside the table."""
        png = tmp_path / "history.png"
        result = sniper_history(history_file, "--plot", png)
        assert result.exit_code == 0, result.output
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert result.stdout.splitlines()[-1] == f"wrote {png}"

    def test_plot_of_one_opening_with_json(self, history_file: Path, tmp_path: Path) -> None:
        """One opening still draws; with --json the note goes to stderr, the JSON alone out."""
        png = tmp_path / "one.png"
        result = sniper_history(history_file, "--last", "1", "--json", "--plot", png)
        assert result.exit_code == 0, result.output
        assert png.stat().st_size > 0
        assert len(json.loads(result.stdout)["records"]) == 1
        assert result.stderr == f"wrote {png}\n"

    def test_plot_of_a_task_named_in_chinese(self, tmp_path: Path) -> None:
        """A Chinese name (boxes without a CJK font, but no warning per glyph) and a $ (which
        would start matplotlib's math text) draw."""
        path = tmp_path / "h.jsonl"
        append(path, record(task="早上抢菜 $\\frac$"))
        png = tmp_path / "h.png"
        result = sniper_history(path, "--lang", "zh", "--plot", png)
        assert result.exit_code == 0, result.output
        assert png.read_bytes()[:4] == b"\x89PNG"

    def test_plot_cannot_be_written(self, history_file: Path, tmp_path: Path) -> None:
        """A PNG in a folder that is not there: one line, exit 2, no table."""
        png = tmp_path / "missing" / "h.png"
        result = sniper_history(history_file, "--plot", png)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith(f"sniper: plot: cannot write {png}: ")
        assert result.stderr.count("\n") == 1

    def test_plot_without_matplotlib(
        self, history_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without matplotlib: bench's one line, exit 2, before anything is read or printed."""
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        result = sniper_history(history_file, "--plot", tmp_path / "h.png")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (
            "sniper: plot: needs matplotlib: pip install 'vegetable-sniper[plot]'\n"
        )

    @pytest.mark.parametrize("args", [[], ["--json"]])
    def test_missing_file(self, tmp_path: Path, args: list[str]) -> None:
        """A file that is not there: one line naming it and why, exit 2."""
        missing = tmp_path / "nope.jsonl"
        result = sniper_history(missing, *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (
            f"sniper: history: cannot read {missing}: No such file or directory\n"
        )

    def test_a_folder(self, tmp_path: Path) -> None:
        """A folder is not a history file."""
        result = sniper_history(tmp_path)
        assert result.exit_code == 2
        assert result.stderr == f"sniper: history: cannot read {tmp_path}: Is a directory\n"

    def test_empty_file(self, tmp_path: Path) -> None:
        """No openings yet: one line, exit 0; --json still one document."""
        path = tmp_path / "h.jsonl"
        path.touch()
        result = sniper_history(path)
        assert result.exit_code == 0
        assert result.stdout == f"no openings recorded yet in {path}\n"
        doc = json.loads(sniper_history(path, "--json").stdout)
        assert doc == {"records": [], "skipped": 0, "summary": []}

    def test_only_lines_that_are_not_records(self, tmp_path: Path) -> None:
        """No records but lines skipped: the one line says so."""
        path = tmp_path / "h.jsonl"
        path.write_text("garbage\n{}\n")
        result = sniper_history(path, "--lang", "zh", "--plot", tmp_path / "h.png")
        assert result.exit_code == 0
        assert result.stdout == f"{path} 中还没有开抢记录;跳过 2 行(写了一半,或不是记录)\n"
        assert not (tmp_path / "h.png").exists()

    def test_task_not_in_the_file(self, history_file: Path) -> None:
        """--task of a task the file does not hold: one line naming it, exit 0."""
        result = sniper_history(history_file, "--task", "noon")
        assert result.exit_code == 0
        assert result.stdout == (
            f"no openings of task noon recorded in {history_file}"
            "; 1 line(s) skipped (torn, or not a record)\n"
        )
