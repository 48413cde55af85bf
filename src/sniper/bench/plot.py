"""``--plot``: a latency histogram with its p50 and p99, and a timeline of answers by result,
as a PNG."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sniper.bench.latency import answered_latencies
from sniper.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def require_matplotlib() -> None:
    """ConfigError unless matplotlib can be imported: checked before a run, so that a missing
    library does not cost the whole opening."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        raise ConfigError("plot: needs matplotlib: pip install 'vegetable-sniper[plot]'") from None


#: The formats a plot is written in, by the file's extension.
PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path: Path) -> None:
    """ConfigError unless ``path`` names a format a plot is written in."""
    if path.suffix.lower() not in PLOT_FORMATS:
        raise ConfigError(f"plot: {path}: name a {', '.join(PLOT_FORMATS)} file")


def plot(report: dict[str, Any], path: Path) -> None:
    """Write the figure of ``report`` to ``path`` as a PNG."""
    require_matplotlib()
    save_figure(figure(report), path)


def save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` and let it go; ConfigError, naming the path, when the file
    cannot be written."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise ConfigError(f"plot: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def figure(report: dict[str, Any]) -> Figure:
    """The latency histogram with its p50 and p99, and the answers over time by result."""
    require_matplotlib()
    import matplotlib.pyplot as plt

    rows = report["shots"]
    start = min((row[2] for row in rows), default=report["opening_ms"])
    fig, (hist, line) = plt.subplots(1, 2, figsize=(12, 4.8))
    hist.hist(answered_latencies(rows), bins=40, color="#4477aa")
    hist.set(title="latency", xlabel="ms from send to answer", ylabel="requests")
    latency = report["latency_ms"]
    for name, color in (("p50", "#228833"), ("p99", "#ee6677")):
        if latency[name] is not None:
            hist.axvline(
                latency[name], color=color, linestyle="--", label=f"{name} {latency[name]:.3f} ms"
            )
    if latency["p50"] is not None:
        hist.legend(loc="upper right")
    for code in sorted({row[5] for row in rows}):
        mine = sorted(row[3] - start for row in rows if row[5] == code)
        line.scatter(mine, range(len(mine)), s=6, label=f"{code} ({len(mine)})")
    line.set(
        title="answers over time",
        xlabel="ms since the first send",
        ylabel="answers so far, per result",
    )
    if rows:
        line.legend(loc="lower right")
    fig.suptitle(title(report))
    fig.tight_layout()
    return fig


def title(report: dict[str, Any]) -> str:
    """The figure's title: the target, users, stock and the opening's date (UTC), then the
    figures that judge it."""
    when = datetime.fromtimestamp(report["opening_ms"] / 1000, tz=UTC)
    users = report.get("users", report["requests"])
    head = [report["target"]] if report.get("target") else []
    head += [f"{users} users", f"stock {report['stock']}", f"{when:%Y-%m-%d %H:%M:%S} UTC"]
    checks = [name for name in ("oversold", "undersold") if report[name]]
    if report["duplicates"]:
        checks.append(f"{report['duplicates']} duplicates")
    return (
        ", ".join(head) + "\n"
        f"{report['requests']} requests: ok {report['ok']}, sold out {report['sold_out']}; "
        + (" ".join(f"FAILED {c}" for c in checks) or "checks OK")
    )
