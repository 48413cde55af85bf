"""Latency as an HDR histogram (microseconds, 1 µs to 1 h, 3 significant digits): the
percentiles of the report, and the ``.hgrm`` percentile distribution that HdrHistogram's
plotter and wrk2 read (``--hdr FILE``)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from sniper.errors import ConfigError

LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
#: The percentiles of the report, by name.
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0))
#: Reporting ticks per half distance to 100 %, as wrk2 and HdrHistogram's tools print them.
TICKS_PER_HALF_DISTANCE = 5


def histogram(latencies_ms: Iterable[float]) -> Any:
    """The histogram of ``latencies_ms``, recorded in whole microseconds. A value below 0 (an
    answer mapped to the target's clock a little before its send) counts as 0; one past an
    hour (or not finite) as an hour."""
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    for ms in latencies_ms:
        us = ms * 1000 if math.isfinite(ms) else HIGHEST_US
        # Clamped before rounding: a huge float has no int to round to cheaply or at all.
        hist.record_value(round(min(HIGHEST_US, max(0.0, us))))
    return hist


def percentiles(hist: Any) -> dict[str, float | None]:
    """p50, p90, p99 and max in ms (each the highest value its bucket stands for); ``None``
    for an empty histogram."""
    if hist.get_total_count() == 0:
        return {name: None for name, _ in PERCENTILES}
    values = hist.get_percentile_to_value_dict([q for _, q in PERCENTILES])
    return {name: values[q] / 1000 for name, q in PERCENTILES}


def hgrm(hist: Any) -> str:
    """The percentile distribution as ``.hgrm`` text, values in ms."""
    out = io.StringIO()
    out.write(f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}\n\n")
    for tick in hist.get_percentile_iterator(TICKS_PER_HALF_DISTANCE):
        level = tick.percentile_level_iterated_to / 100
        line = f"{tick.value_iterated_to / 1000:12.3f} {level:2.12f} "
        line += f"{tick.total_count_to_this_value:10d}"
        out.write(line + (f" {1 / (1 - level):14.2f}\n" if level < 1 else "\n"))
    total = hist.get_total_count()
    mean = hist.get_mean_value() / 1000 if total else 0.0
    stddev = hist.get_stddev() / 1000 if total else 0.0
    out.write(f"#[Mean    = {mean:12.3f}, StdDeviation   = {stddev:12.3f}]\n")
    out.write(f"#[Max     = {hist.get_max_value() / 1000:12.3f}, Total count    = {total:12d}]\n")
    out.write(
        f"#[Buckets = {hist.bucket_count:12d}, SubBuckets     = {hist.sub_bucket_count:12d}]\n"
    )
    return out.getvalue()


def write_hgrm(report: dict[str, Any], path: Path) -> None:
    """Write the report's latency distribution (every answered shot) to ``path``; an unwritable
    path is a ConfigError."""
    text = hgrm(histogram(answered_latencies(report["shots"])))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"hdr: cannot write {path}: {exc.strerror or exc}") from None


def answered_latencies(rows: Iterable[list[Any]]) -> list[float]:
    """``done - sent`` in ms of every answered shot of a report's ``shots`` rows
    (``[index, user, sent_ms, done_ms, status, code]``)."""
    return [row[3] - row[2] for row in rows if row[4] is not None]
