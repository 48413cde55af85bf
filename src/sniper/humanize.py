"""Numbers for people: durations in words, and text padded by its width on a terminal. Pure."""

from __future__ import annotations

from rich.cells import cell_len

_UNITS = {
    "en": {"d": " d", "h": " h", "min": " min", "s": " s"},
    "zh": {"d": " 天", "h": " 小时", "min": " 分", "s": " 秒"},
}


def duration(seconds: float, lang: str = "en", units_shown: int = 2) -> str:
    """``seconds`` as a person says it: ``4.2 s``, ``42 s``, ``12 min 5 s``, ``1 h 28 min``,
    ``2 d 3 h`` (the ``units_shown`` largest units, rounded down; tenths under ten seconds)."""
    units = _UNITS.get(lang, _UNITS["en"])
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{int(seconds * 10) / 10:.1f}{units['s']}"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next(i for i, (n, _) in enumerate(parts) if n)
    shown = [(n, u) for n, u in parts[first : first + units_shown] if n or u == parts[first][1]]
    return " ".join(f"{n}{units[u]}" for n, u in shown)


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal cells (a CJK character takes two)."""
    return text + " " * max(0, width - cell_len(text))


def width(texts: list[str]) -> int:
    """The widest of ``texts`` in terminal cells."""
    return max((cell_len(t) for t in texts), default=0)
