"""The bench report as a table for people."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_OK = "[green]OK[/green]"


def show(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the report as a two-column table."""
    console = console or Console()
    table = Table(title=_title(report), show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for name, value in rows(report):
        table.add_row(name, value)
    console.print(table)


def rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The table's rows: figure, value (rich markup)."""
    latency = report["latency_ms"]
    found: list[tuple[str, str]] = [
        ("requests", str(report["requests"])),
        ("ok", str(report["ok"])),
        ("sold out", str(report["sold_out"])),
        ("errors", ", ".join(f"{k}: {v}" for k, v in report["errors"].items()) or "none"),
    ]
    if report.get("server_count") is not None:
        found.append(("units sold, by the server's count", str(report["server_count"])))
    if report.get("orders_listed") is not None:
        found.append(("orders listed by the store", str(report["orders_listed"])))
    found += [
        ("oversold", _oversold(report)),
        ("undersold", _undersold(report)),
        ("duplicates", _duplicates(report)),
        ("time to sold out (the last unit sold)", _ms_after(report["sold_out_after_ms"])),
        *_fairness(report["fairness"]),
        (
            "latency p50 / p90 / p99 / max (ms)",
            " / ".join(_ms(latency[k]) for k in ("p50", "p90", "p99", "max")),
        ),
        ("first write, from the opening (ms)", _from_opening(report)),
        ("send spread, first to last (ms)", _ms(report["spread_ms"])),
        ("throughput (req/s)", str(report.get("throughput_rps", "n/a"))),
    ]
    return found


def _title(report: dict[str, Any]) -> str:
    shard = report.get("shard")
    return "sniper bench" + (f" (shard {shard})" if shard else "")


def _sold(report: dict[str, Any]) -> int:
    server = report.get("server_count")
    return int(report["ok"] if server is None else server)


def _oversold(report: dict[str, Any]) -> str:
    if not report["oversold"]:
        return _OK
    sold = max(report["ok"], _sold(report))
    if sold > report["stock"]:
        return f"[red]FAILED: {sold} units sold, the stock was {report['stock']}[/red]"
    return "[red]FAILED: the store's orders exceed the stock or a buyer's limit[/red]"


def _undersold(report: dict[str, Any]) -> str:
    if not report["undersold"]:
        return _OK
    left = report["stock"] - _sold(report)
    return (
        f"[red]FAILED: {report['sold_out']} told sold out with {left} of "
        f"{report['stock']} units left[/red]"
    )


def _duplicates(report: dict[str, Any]) -> str:
    n = report["duplicates"]
    if not n:
        return _OK
    return f"[red]FAILED: {n} buyer{'s' if n > 1 else ''} with more than one order[/red]"


def _fairness(fair: dict[str, Any]) -> list[tuple[str, str]]:
    tau, best = fair["kendall_tau"], fair.get("kendall_tau_max")
    if tau is None:
        said = "n/a (no winner or no loser)"
    else:
        said = f"{tau:+.4f}" + (
            f" (first come first served: {best:+.4f})" if best is not None else ""
        )
    return [
        ("fairness: Kendall tau, send order vs winning", said),
        (f"winners among the first {fair['first_n']} sent", str(fair["winners_in_first_n"])),
    ]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _from_opening(report: dict[str, Any]) -> str:
    first = report.get("first_send_server_ms")
    return "n/a" if first is None else f"{first - report['opening_ms']:+.3f}"


def _ms_after(value: float | None) -> str:
    return "nothing sold" if value is None else f"{value:.3f} ms after the opening"
