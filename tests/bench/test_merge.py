"""Merging the shards of one opening: exactly the unsharded report; every bad file one line."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from sniper.bench import merge as merge_module
from sniper.bench.merge import load_reports, merge
from sniper.bench.report import Shot, summarize, to_json
from sniper.errors import ConfigError

OPENING = 1_800_000_000_000
CODES = ["ok", "sold_out", "sold_out", "timeout", "http_503", "ok"]
DIGEST = "ab" * 32


def random_shots(rng: random.Random, n: int) -> list[Shot]:
    """Shots of ``n`` users (some users twice: two sessions of one buyer), tied sends."""
    shots = []
    for index in range(n):
        code = rng.choice(CODES)
        sent = OPENING + rng.randrange(40) * 0.25 + rng.random() * 1e-4
        status = None if code == "timeout" else {"ok": 201, "sold_out": 409}.get(code, 503)
        user = f"u{rng.randrange(max(1, n - 3))}"
        shots.append(Shot(user, sent, sent + rng.uniform(0.1, 80.0), status, code, index))
    return shots


def sharded(shots: list[Shot], n: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Each shard's report as a file would hold it (through JSON)."""
    return [
        json.loads(
            to_json(
                summarize(
                    [s for s in shots if s.index % n == k - 1],
                    opening_ms=OPENING,
                    shard=f"{k}/{n}",
                    **kwargs,
                )
            )
        )
        for k in range(1, n + 1)
    ]


@pytest.mark.parametrize("seed", range(12))
def test_merged_shards_are_the_unsharded_report(seed: int) -> None:
    rng = random.Random(seed)
    shots = random_shots(rng, rng.randint(0, 300))
    n = rng.randint(1, 5)
    stock = rng.randint(0, 60)
    server_count = rng.choice([None, stock, stock + 1, max(0, stock - 1)])
    shards = sharded(shots, n, stock=stock, server_count=server_count)
    rng.shuffle(shards)  # the order they are given in does not matter
    whole = summarize(shots, stock=stock, opening_ms=OPENING, server_count=server_count)
    assert merge(shards) == whole


def test_the_highest_server_count_and_first_n() -> None:
    shots = random_shots(random.Random(1), 50)
    one, two = sharded(shots, 2, stock=10, first_n=20)
    one["server_count"], two["server_count"] = None, 9
    merged = merge([one, two])
    assert merged["server_count"] == 9
    assert merged == summarize(shots, stock=10, opening_ms=OPENING, server_count=9, first_n=20)


def test_the_target_and_the_users_file_stay() -> None:
    shots = random_shots(random.Random(2), 20)
    one, two = sharded(shots, 2, stock=5)
    assert not {"target", "users_total", "users_sha256"} & set(merge([one, two]))
    for report in (one, two):
        report.update(target="http://127.0.0.1:9000/seckill", users_total=20, users_sha256=DIGEST)
    merged = merge([one, two])
    assert merged["target"] == "http://127.0.0.1:9000/seckill"
    assert (merged["users_total"], merged["users_sha256"]) == (20, DIGEST)


def test_one_unsharded_report_merges_to_itself() -> None:
    shots = random_shots(random.Random(3), 30)
    report = json.loads(to_json(summarize(shots, stock=4, opening_ms=OPENING)))
    assert merge([report]) == report


def _pair() -> list[dict[str, Any]]:
    return sharded(random_shots(random.Random(4), 40), 2, stock=5)


def _edit(change: Any) -> list[dict[str, Any]]:
    reports = _pair()
    change(reports)
    return reports


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        (_edit(lambda r: r[1].update(stock=6)), "B.json: stock is 6, A.json has 5"),
        (
            _edit(lambda r: r[1].update(opening_ms=OPENING + 1)),
            "B.json: opening_ms is 2027-01-15T08:00:00.001+00:00, A.json has "
            "2027-01-15T08:00:00.000+00:00 (shards fire together only with one absolute --at",
        ),
        (
            _edit(lambda r: r[1]["fairness"].update(first_n=9)),
            "B.json: fairness.first_n is 9, A.json has 5",
        ),
        (_edit(lambda r: r[1].update(shard="1/2")), "B.json: shard 1/2 again (also A.json)"),
        (_edit(lambda r: r[1].update(shard="2/3")), "B.json: shard 2/3, but A.json is one of 2"),
        (
            _edit(lambda r: r[1].update(shard="3/2")),
            "B.json: shard must be K/N (like 1/2), not '3/2'",
        ),
        (_edit(lambda r: r[1].update(shard=None)), "B.json: not a shard (shard is null)"),
        (_edit(lambda r: r[1].update(shard="0/2")), "B.json: shard must be K/N"),
        (_edit(lambda r: r[1].update(shard="two")), "B.json: shard must be K/N"),
        (_edit(lambda r: r.pop()), "merge: shard 2/2 missing"),
        (
            _edit(lambda r: r[1]["shots"].append([6, "x", OPENING, OPENING, 201, "ok"])),
            "B.json: user index 6 is not in shard 2/2",
        ),
        (_edit(lambda r: r[0].pop("shots")), "A.json: missing keys: shots"),
        (_edit(lambda r: r.clear()), "merge: no reports given"),
    ],
)
def test_reports_that_do_not_merge(reports: list[dict[str, Any]], message: str) -> None:
    names = ["A.json", "B.json"][: len(reports)]
    with pytest.raises(ConfigError) as caught:
        merge(reports, names)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_names_default_to_the_reports_place() -> None:
    reports = _edit(lambda r: r[1].update(stock=6))
    with pytest.raises(ConfigError, match=r"^report 2: stock is 6, report 1 has 5$"):
        merge(reports)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def test_load_reports_reads_what_bench_wrote(tmp_path: Path) -> None:
    reports = _pair()
    paths = [_write(tmp_path, f"{i}.json", to_json(r)) for i, r in enumerate(reports)]
    assert load_reports(paths) == reports


def _valid() -> dict[str, Any]:
    return _pair()[0]


def _with(**changes: Any) -> str:
    report = _valid()
    report.update(changes)
    return json.dumps(report)


def _shot_row(row: Any) -> str:
    report = _valid()
    report["shots"].append(row)
    return json.dumps(report)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2"),
        ("", "not JSON: Expecting value: line 1 column 1"),
        ("[1, 2]", "not a JSON object"),
        ('{"ok": 1}', "missing keys: duplicates, errors, fairness,"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (_with(stock="30"), "stock must be an integer"),
        (_with(stock=True), "stock must be an integer"),
        (_with(stock=-1), "stock must be an integer from 0"),
        (_with(server_count=-1), "server_count must be an integer from 0 or null"),
        (_with(fairness={"first_n": -5}), "fairness.first_n must be an integer from 0"),
        (_with(ok=1.5), "ok must be an integer"),
        (_with(oversold=1), "oversold must be true or false"),
        (_with(server_count="9"), "server_count must be an integer from 0 or null"),
        (_with(opening_ms=None), "opening_ms must be a number"),
        (_with(shots={}), "shots must be a list"),
        (_with(fairness={}), "fairness.first_n must be an integer"),
        (_with(shard=2), "shard must be a string or null"),
        ('{"stock": NaN}', "not JSON: NaN is not a number JSON allows"),
        (_shot_row([1, "a"]), "shots[20]: must be [index, user, sent_ms, done_ms, status, code]"),
        (_shot_row([-1, "a", 1.0, 2.0, 201, "ok"]), "shots[20]: index must be an integer from 0"),
        (_shot_row([1, 7, 1.0, 2.0, 201, "ok"]), "shots[20]: user must be a string"),
        (_shot_row([1, "a", "1", 2.0, 201, "ok"]), "shots[20]: sent_ms must be an epoch time"),
        (_shot_row([1, "a", 1.0, None, 201, "ok"]), "shots[20]: done_ms must be an epoch time"),
        (_shot_row([1, "a", 1.0, 2.0, "201", "ok"]), "shots[20]: status must be an integer or"),
        (_shot_row([1, "a", 1.0, 2.0, 201, ""]), "shots[20]: code must be 1 to 40 of a-z, 0-9, _"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    good = _write(tmp_path, "good.json", json.dumps(_valid()))
    bad = _write(tmp_path, "bad.json", content)
    with pytest.raises(ConfigError) as caught:
        load_reports([good, bad])
    assert str(caught.value).startswith(f"{bad}: {message}")
    assert "\n" not in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^.*nope\.json: no such file$"):
        load_reports([tmp_path / "nope.json"])


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^.*: cannot read: "):
        load_reports([tmp_path])


def test_a_file_too_large_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_module, "MAX_REPORT_BYTES", 100)
    path = _write(tmp_path, "big.json", json.dumps(_valid()))
    with pytest.raises(ConfigError, match=r"big\.json: \d+ bytes, more than a report's 100$"):
        load_reports([path])


def test_an_empty_shard_merges() -> None:
    """Three users in four shards: the fourth has no shot, and the merge is the whole run."""
    shots = random_shots(random.Random(5), 3)
    shards = sharded(shots, 4, stock=2)
    assert shards[3]["shots"] == []
    for report in shards:
        report.update(users_total=3, users_sha256=DIGEST)
    whole = summarize(shots, stock=2, opening_ms=OPENING)
    assert merge(shards) == {**whole, "users_total": 3, "users_sha256": DIGEST}


def test_shards_judge_undersold_when_merged() -> None:
    """Each shard alone cannot tell (no server count); over all the shots the merge can."""
    shots = [
        Shot(f"u{i}", OPENING + i, OPENING + i + 1.0, 201 if i < 2 else 409, code, i)
        for i, code in enumerate(["ok", "ok", "sold_out", "sold_out"])
    ]
    shards = sharded(shots, 2, stock=3)
    assert [r["undersold"] for r in shards] == [None, None]
    assert merge(shards)["undersold"] is True
    assert merge(sharded(shots, 2, stock=2))["undersold"] is False


def _of_one_file(total: int = 40) -> list[dict[str, Any]]:
    reports = _pair()
    for report in reports:
        report.update(target="http://127.0.0.1:9000/x", users_total=total, users_sha256=DIGEST)
    return reports


def _edit_one_file(change: Any) -> list[dict[str, Any]]:
    reports = _of_one_file()
    change(reports)
    return reports


def _drop_last_shot(reports: list[dict[str, Any]]) -> None:
    reports[1]["shots"].pop()


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        (
            _edit_one_file(lambda r: r[1]["shots"].append(list(r[1]["shots"][0]))),
            "B.json: user index 1 has two shots",
        ),
        (
            _edit_one_file(lambda r: r[1].update(target="http://127.0.0.1:9001/x")),
            "B.json: target is http://127.0.0.1:9001/x, A.json has http://127.0.0.1:9000/x",
        ),
        (
            _edit_one_file(lambda r: r[1].pop("target")),
            "B.json: target is none, A.json has http://127.0.0.1:9000/x",
        ),
        (
            _edit_one_file(lambda r: r[1].update(users_total=41)),
            "B.json: users_total is 41, A.json has 40",
        ),
        (
            _edit_one_file(lambda r: r[1].update(users_sha256="cd" * 32)),
            f"B.json: users_sha256 is {'cd' * 32}, A.json has {DIGEST}",
        ),
        (
            _edit_one_file(lambda r: [x.update(users_total=38) for x in r]),
            "A.json: user index 38 is past the users file's 38 users",
        ),
        (
            _edit_one_file(_drop_last_shot),
            "merge: 1 user of the file has no shot (the first: index 39)",
        ),
        (
            _edit_one_file(lambda r: r[1]["shots"].clear()),
            "merge: 20 users of the file have no shot (the first: index 1)",
        ),
    ],
)
def test_shards_of_one_users_file(reports: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        merge(reports, ["A.json", "B.json"])
    assert str(caught.value) == message


def test_shards_of_one_users_file_merge() -> None:
    merged = merge(_of_one_file())
    assert (merged["users_total"], merged["requests"]) == (40, 40)


def test_a_duplicate_index_in_one_unsharded_report() -> None:
    report = json.loads(
        to_json(summarize(random_shots(random.Random(6), 5), stock=1, opening_ms=OPENING))
    )
    report["shots"].append(list(report["shots"][2]))
    with pytest.raises(ConfigError, match=r"^A\.json: user index 2 has two shots$"):
        merge([report], ["A.json"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shots": [[1, "a", 1e308, 1e308, 201, "ok"]]}, "shots[0]: sent_ms must be an epoch time"),
        (
            {"shots": [[1, "a", OPENING, 1e308, 201, "ok"]]},
            "shots[0]: done_ms must be an epoch time",
        ),
        (
            {"shots": [[1, "a", -1e16, OPENING, 201, "ok"]]},
            "shots[0]: sent_ms must be an epoch time",
        ),
        (
            {"shots": [[1, "a", OPENING, OPENING, 201, "[red]x[/]"]]},
            "shots[0]: code must be 1 to 40",
        ),
        ({"shots": [[1, "a", OPENING, OPENING, 201, "x" * 41]]}, "shots[0]: code must be 1 to 40"),
        ({"shots": [[1, "a", OPENING, OPENING, 201, "OK"]]}, "shots[0]: code must be 1 to 40"),
        ({"opening_ms": 1e300}, "opening_ms must be an epoch time"),
        ({"undersold": "maybe"}, "undersold must be true or false or null"),
        ({"target": 9}, "target must be a string or null"),
        ({"users_total": -1}, "users_total must be an integer from 0 or null"),
        ({"users_sha256": "xyz"}, "users_sha256 must be 64 hex digits or null"),
    ],
)
def test_values_no_run_gives(changes: dict[str, Any], message: str) -> None:
    report = json.loads(to_json(summarize([], stock=1, opening_ms=OPENING)))
    report.update(changes)
    with pytest.raises(ConfigError) as caught:
        merge([report], ["A.json"])
    assert str(caught.value).startswith(f"A.json: {message}")


def test_a_merge_of_a_file_with_huge_times_is_refused(tmp_path: Path) -> None:
    report = json.loads(to_json(summarize([], stock=1, opening_ms=OPENING)))
    report["shots"] = [[0, "a", OPENING, 1e308, 201, "ok"]]
    path = _write(tmp_path, "huge.json", json.dumps(report))
    with pytest.raises(ConfigError, match=r"huge\.json: shots\[0\]: done_ms must be an epoch"):
        merge(load_reports([path]), [str(path)])


@pytest.mark.timeout(10)
def test_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    """A device or a FIFO would be read forever (or block): refused before any read."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(ConfigError) as caught:
            load_reports([path])
        assert str(caught.value) == f"{path}: not a regular file"


def test_the_users_files_digest(tmp_path: Path) -> None:
    path = _write(tmp_path, "users.csv", "user,token\na,t1\n")
    assert merge_module.users_sha256(path) == hashlib.sha256(b"user,token\na,t1\n").hexdigest()
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for gone in (tmp_path / "nope.csv", tmp_path, fifo):
        assert merge_module.users_sha256(gone) is None
