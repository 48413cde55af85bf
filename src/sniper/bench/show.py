"""The bench report as a table for people."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_OK = "[green]OK[/green]"
_MERGED = "n/a: judged when the shards are merged"


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
        ("time to sold out (the last unit sold)", _sold_out_after(report)),
        *_fairness(report["fairness"], report["requests"]),
        (
            "latency p50 / p90 / p99 / max (ms)",
            " / ".join(_ms(latency[k]) for k in ("p50", "p90", "p99", "max")),
        ),
        ("first write, from the opening", _first_write(report)),
        ("send spread, first to last (ms)", _ms(report["spread_ms"])),
        *_arrivals(report),
        ("throughput (req/s)", str(report.get("throughput_rps", "n/a"))),
    ]
    return found


def _title(report: dict[str, Any]) -> str:
    shard = report.get("shard")
    return "sniper bench" + (f" (shard {shard})" if shard else "")


def _oversold(report: dict[str, Any]) -> str:
    if not report["oversold"]:
        return _OK
    stock = report["stock"]
    if report["ok"] > stock:
        return f"[red]FAILED: {report['ok']} units sold, the stock was {stock}[/red]"
    if report["sold"] > stock:
        sold = f"{report['sold']} units sold by the server's count"
        return f"[red]FAILED: {sold}, the stock was {stock}[/red]"
    return "[red]FAILED: the store's orders exceed the stock or a buyer's limit[/red]"


def _undersold(report: dict[str, Any]) -> str:
    judged = report["undersold"]
    if judged is False:
        return _OK
    if judged is None and _in_a_shard(report):
        return _MERGED
    left = f"{report['stock'] - report['sold']} of {report['stock']} units left"
    if judged is None:
        n = report["unknown_outcomes"]
        return (
            f"[yellow]unknown: {report['sold_out']} told sold out with {left} by the answers, "
            f"but {n} request{'s' if n != 1 else ''} with no known outcome may have bought "
            "them (a count: in the bench file decides)[/yellow]"
        )
    return f"[red]FAILED: {report['sold_out']} told sold out with {left}[/red]"


def _sold_out_after(report: dict[str, Any]) -> str:
    value = report["sold_out_after_ms"]
    if value is not None:
        return f"{value:.3f} ms after the opening"
    if _in_a_shard(report):
        return _MERGED
    sold, stock = report["sold"], report["stock"]
    if sold < stock:
        return f"not sold out ({sold} of {stock} sold)"
    if stock == 0:
        return "nothing to sell"
    return "n/a (no success answer seen)"


def _in_a_shard(report: dict[str, Any]) -> bool:
    """One shard's report, without the server's count: its sales are not the whole sale's."""
    return report.get("shard") is not None and report.get("server_count") is None


def _duplicates(report: dict[str, Any]) -> str:
    n = report["duplicates"]
    if not n:
        return _OK
    return f"[red]FAILED: {n} buyer{'s' if n > 1 else ''} with more than one order[/red]"


def _fairness(fair: dict[str, Any], requests: int) -> list[tuple[str, str]]:
    tau, best = fair["kendall_tau"], fair.get("kendall_tau_max")
    if tau is None:
        said = "n/a (no winner or no loser)"
    else:
        said = f"{tau:+.4f}" + (
            f" (first come first served: {best:+.4f})" if best is not None else ""
        )
    return [
        ("fairness: Kendall tau, send order vs winning", said),
        (
            f"winners among the first {min(fair['first_n'], requests)} sent",
            str(fair["winners_in_first_n"]),
        ),
    ]


def _first_write(report: dict[str, Any]) -> str:
    """When the first request was written, on the target's clock, against the opening: a
    sender that fired late (a busy machine, a clock measured wrong) shows here."""
    first, opening = report.get("first_send_server_ms"), report.get("opening_ms")
    if first is None or opening is None:
        return "n/a"
    return f"{round(first - opening, 3) + 0.0:+.3f} ms"


def _arrivals(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The orders' arrival spread, where the target stamps its orders (our own store)."""
    if report.get("arrival_spread_ms") is None:
        return []
    return [
        ("orders' arrival spread, by the store's stamps (ms)", _ms(report["arrival_spread_ms"]))
    ]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
