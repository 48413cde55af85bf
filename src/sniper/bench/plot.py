"""``--plot``: a latency histogram and a timeline of answers by result, as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sniper.bench.report import Shot
from sniper.errors import ConfigError


def require_matplotlib() -> None:
    """ConfigError unless matplotlib can be imported: checked before a run, so that a missing
    library does not cost the whole opening."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        raise ConfigError("plot: needs matplotlib: pip install 'vegetable-sniper[plot]'") from None


def plot(shots: Sequence[Shot], report: dict[str, Any], path: Path) -> None:
    """Write the figure to ``path``."""
    require_matplotlib()
    import matplotlib.pyplot as plt

    start = min(s.sent_at for s in shots)
    fig, (hist, line) = plt.subplots(1, 2, figsize=(12, 4.5))
    latencies = [s.done_at - s.sent_at for s in shots if s.status is not None]
    hist.hist(latencies, bins=40, color="#4477aa")
    hist.set(title="latency", xlabel="ms from send to answer", ylabel="requests")
    for code in sorted({s.code for s in shots}):
        mine = sorted(s.done_at - start for s in shots if s.code == code)
        line.scatter(mine, range(len(mine)), s=6, label=f"{code} ({len(mine)})")
    line.set(
        title="answers over time",
        xlabel="ms since the first send",
        ylabel="answers so far, per result",
    )
    line.legend(loc="lower right")
    fig.suptitle(
        f"{report['requests']} requests: ok {report['ok']}, sold out "
        f"{report['sold_out']}, oversold {report['oversold']}, "
        f"p99 {report['latency_ms']['p99']} ms"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
