"""The bench report as a table for people."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def show(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the report as a two-column table."""
    console = console or Console()
    table = Table(title="sniper bench", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    latency = report["latency_ms"]
    rows = [
        ("requests", report["requests"]),
        ("ok (201)", report["ok"]),
        ("sold out (409)", report["sold_out"]),
        ("other errors", ", ".join(f"{k}: {v}" for k, v in report["errors"].items()) or "none"),
        ("oversold", "[red]YES[/red]" if report["oversold"] else "[green]no[/green]"),
        ("orders listed by the store", report["orders_listed"]),
        (
            "latency p50 / p90 / p99 / max (ms)",
            f"{latency['p50']} / {latency['p90']} / {latency['p99']} / {latency['max']}",
        ),
        ("throughput (req/s)", report["throughput_rps"]),
        ("send spread (ms)", report["spread_ms"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
