"""``sniper history``'s edge: read the history file, print its table or its JSON, draw its
figure (matplotlib, imported only for ``--plot``)."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from sniper.bench.plot import require_matplotlib, save_figure
from sniper.client import historyview as view
from sniper.client.console import message
from sniper.client.history import Opening, read_history
from sniper.client.scrub import log_line
from sniper.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Columns of numbers, aligned on the right.
_NUMBERS = frozenset(range(3, 8))

_HALF_DAY = timedelta(hours=12)

#: A line of the table may be this wide before rich cuts it.
_WIDEST = 1000


def show_history(
    path: Path,
    *,
    lang: str,
    as_json: bool,
    plot: Path | None,
    task: str | None,
    last: int | None,
    out: TextIO,
    err: TextIO,
) -> None:
    """Print the openings recorded in ``path`` (those of ``task``, the ``last`` of them) as a
    table in ``lang`` or, ``as_json``, one JSON document; draw them to ``plot``. ConfigError
    if the file cannot be read or the figure written."""
    try:
        history = read_history(path)
    except OSError as exc:
        raise ConfigError(f"history: cannot read {path}: {exc.strerror or exc}") from None
    records = view.select(history.records, task=task, last=last)
    if plot is not None and records:
        try:
            draw(records, plot)  # first: a figure that cannot be written is the one line said
        except (ValueError, OverflowError) as exc:  # a hand-edited instant no axis can hold
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"plot: cannot draw these openings: {first}") from None
    if as_json:
        document = view.document(records, history.skipped)
        print(log_line(json.dumps(document, ensure_ascii=False)), file=out)
    elif not records:
        key = "history_no_task" if task is not None and history.records else "history_empty"
        line = message(lang, key, path=path, task=task)
        if history.skipped:
            line += message(lang, "history_skipped", skipped=history.skipped)
        print(line, file=out)
    else:
        summary = view.summary_line(records, history.skipped, lang)
        _print_table(view.table(records, lang), summary, out)
    if plot is not None and records:
        print(f"wrote {plot}", file=err if as_json else out)


def _print_table(table: view.Table, summary: str, out: TextIO) -> None:
    """The table, laid out by rich as wide as it needs (a narrow terminal wraps its lines
    rather than have rich cut an order id short), plain text without trailing spaces."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, header in enumerate(table.headers):
        justify: JustifyMethod = "right" if i in _NUMBERS else "left"
        grid.add_column(header, justify=justify, no_wrap=True)
    for row in table.rows:
        grid.add_row(*(Text(cell) for cell in row))  # Text: a task named "[red]" is no markup
    layout = Console(file=io.StringIO(), width=_WIDEST, highlight=False)
    layout.width = layout.measure(grid).maximum
    with layout.capture() as captured:
        layout.print(grid)
    for line in captured.get().splitlines():
        print(line.rstrip(), file=out)
    print(f"\n{summary}", file=out)


def draw(records: Sequence[Opening], path: Path) -> None:
    """Write a PNG to ``path``: for each task, shop and item, over its openings, when the shop
    opened as seen (a bar from the last ``not_started`` to the first open answer) and our
    lateness, in ms after the published opening. ConfigError if it cannot be written."""
    require_matplotlib()
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    have = {font.name for font in font_manager.fontManager.ttflist}
    groups = view.groups(records)
    style = plt.rc_context({"date.converter": "concise", "font.sans-serif": fonts(have)})
    with style, warnings.catch_warnings():
        # Without a CJK font, a task named in Chinese is drawn as boxes: say it once, not
        # once per glyph.
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        fig, axes = plt.subplots(
            len(groups), 1, figsize=(10, 4 * len(groups)), sharex=True, squeeze=False
        )
        for ax, ((task, shop, sku), group) in zip(axes[:, 0], groups.items(), strict=True):
            _draw_group(ax, group)
            title = f"{task}, {shop}, {sku}".replace("$", r"\$")  # $ would start math text
            ax.set(title=title, ylabel="ms after the published opening")
        first, last = min(_x(records)), max(_x(records))
        if first == last:  # one instant: half a day each side, not matplotlib's two years
            axes[-1, 0].set_xlim(first - _HALF_DAY, last + _HALF_DAY)
        fig.tight_layout()
        save_figure(fig, path)


#: Fonts with Chinese glyphs, on Linux, macOS and Windows: matplotlib falls back to the first
#: one present for the glyphs its own font lacks (task names in Chinese).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
)


def fonts(have: set[str]) -> list[str]:
    """The figure's sans-serif fonts: matplotlib's own, then the CJK fonts among ``have`` (one
    not present would be logged as missing)."""
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in have)]


def _draw_group(ax: Axes, group: Sequence[Opening]) -> None:
    """One task's openings on one pair of axes."""
    ax.axhline(0, color="grey", linewidth=0.8, linestyle="--", label="published opening")
    seen = [(r, s) for r in group if (s := view.observed_opening(r)) is not None]
    bracketed = [(r, s) for r, s in seen if r.last_not_started_ms is not None]
    if bracketed:
        below = [s - (r.last_not_started_ms or 0.0) for r, s in bracketed]
        above = [(r.first_open_ms or 0.0) - s for r, s in bracketed]
        ax.errorbar(
            _x(r for r, _ in bracketed),
            [s for _, s in bracketed],
            yerr=[below, above],
            fmt="o",
            capsize=4,
            color="#4477aa",
            label="shop opened (bar: last not started … first open)",
        )
    bounded = [(r, s) for r, s in seen if r.last_not_started_ms is None]
    if bounded:
        ax.scatter(
            _x(r for r, _ in bounded),
            [s for _, s in bounded],
            marker="v",
            color="#4477aa",
            label="shop open by then (first answer already open)",
        )
    late = [(r, t) for r in group if (t := view.lateness(r)) is not None]
    if late:
        ax.plot(
            _x(r for r, _ in late),
            [t for _, t in late],
            marker="s",
            markerfacecolor="none",  # hollow: the shop's point beneath stays seen
            linewidth=0.8,
            color="#cc6677",
            label="our lateness (order answered, else first arrival)",
        )
    ax.legend(loc="best", fontsize="small")


def _x(records: Iterable[Opening]) -> Any:
    """The openings on the time axis: ``Any``, as matplotlib takes datetimes (by its units
    registry) where its type hints say numbers."""
    return [view.wall_clock(r) for r in records]
