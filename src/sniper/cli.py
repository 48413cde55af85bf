"""The ``sniper`` command: parse, build objects, run one thing. No logic lives here."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from sniper import __version__
from sniper.bench.admin import AdminError
from sniper.client import commands
from sniper.client.config import TaskConfig, check_files, load_tasks, redact
from sniper.client.console import Console
from sniper.client.many import run_many
from sniper.client.platforms import platform_class
from sniper.client.runner import Interrupted, run_until_signal
from sniper.errors import ClockError, ConfigError, ConnectionBroken, StartError
from sniper.files import write_private
from sniper.logs import setup_logging

EXIT_CONFIG = 2
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="sniper")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Run this task file (the same as `sniper run FILE`).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """vegetable-sniper: order at the opening instant; run a flash-sale store."""
    if ctx.invoked_subcommand is None:
        if config_path is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(run, config=config_path)


def lang_option(help_text: str) -> Callable[[F], F]:
    """``--lang en|zh``, English by default."""
    return click.option(
        "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help=help_text
    )


def task_options(fn: Any) -> Any:
    """The flags that override a task file's fields (the highest layer)."""
    options = [
        click.option("--base-url", help="Where the platform lives."),
        click.option("--sku-id", help="Item to buy."),
        click.option(
            "--target-time",
            help="Opening instant, RFC 3339 with offset; or a time of day (with repeat:).",
        ),
        click.option("--qty", type=int, help="Quantity."),
        click.option("--concurrency", type=int, help="Requests fired at the opening instant."),
        click.option("--preheat-ms", type=int, help="Connections are opened this long before."),
        click.option("--timeout-s", type=float, help="Limit of one request."),
        click.option("--log-file", type=click.Path(path_type=Path), help="JSON Lines log."),
        click.option("--lang", type=click.Choice(["en", "zh"]), help="Console language."),
        click.option(
            "--cookie-file", type=click.Path(path_type=Path), help="Read the cookie from this file."
        ),
        click.option(
            "--ca-file", type=click.Path(path_type=Path), help="Extra CA certificates for https."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _load(config: Path | None, flags: dict[str, Any]) -> list[tuple[TaskConfig, str]]:
    """Every task with its cookie, or one line on stderr and exit code 2."""
    tasks: list[TaskConfig] = _or_exit(load_tasks, config, flags)
    loaded = []
    for task in tasks:
        where = f"tasks.{task.name}: " if len(tasks) > 1 else ""
        try:
            cookie = task.cookie_value()
            platform_class(task.platform)
        except ConfigError as exc:
            click.echo(f"sniper: {where}{exc}", err=True)
            sys.exit(EXIT_CONFIG)
        loaded.append((task, cookie))
    return loaded


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@task_options
def run(config: Path, **flags: Any) -> None:
    """Run a task: order at the opening instant."""
    tasks = _load(config, flags)
    for task, _ in tasks:
        _or_exit(check_files, task)
    if len(tasks) == 1:
        task, cookie = tasks[0]
        sys.exit(_run_async(commands.run(task, cookie, Console(task.lang))))
    sys.exit(_run_async(run_many(tasks, tasks[0][0].lang)))


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@task_options
def check(config: Path, **flags: Any) -> None:
    """Validate a task, probe the login and the item, measure the clock; sends no order."""
    codes = [
        _run_async(commands.check(task, cookie, Console(task.lang)))
        for task, cookie in _load(config, flags)
    ]
    sys.exit(max(codes))


@cli.command("notify-test")
@click.argument("config", type=click.Path(path_type=Path))
def notify_test(config: Path) -> None:
    """Send one test message through every channel of the task file's notify: section."""
    from sniper.client.notify import Notifier

    tasks = _load(config, {})
    channels = list({id(c): c for task, _ in tasks for c in task.notify}.values())
    if not channels:
        click.echo("sniper: notify: no channels configured", err=True)
        sys.exit(EXIT_CONFIG)
    notifier = Notifier(channels, lambda _: None)
    results = _run_async(notifier.check("sniper: test", "a test message from sniper notify-test"))
    for kind, error in results:
        click.echo(f"{kind}: {'ok' if error is None else error}")
    sys.exit(0 if all(e is None for _, e in results) else 1)


@cli.command()
@click.argument("url")
@click.option(
    "--samples",
    type=click.IntRange(1, 100),
    default=8,
    show_default=True,
    help="Timed requests to measure with.",
)
@click.option("--ca-file", type=click.Path(exists=True), help="Extra CA certificates for https.")
@click.option(
    "--json",
    "json_path",
    help="URL is a time endpoint (path and query as given); the time is at this dotted "
    "JSON path, e.g. data.now.",
)
@click.option(
    "--unit", type=click.Choice(["ms", "s"]), help="The unit of the time at --json (default ms)."
)
def clock(
    url: str, samples: int, ca_file: str | None, json_path: str | None, unit: str | None
) -> None:
    """Clock offset and RTT to a server, with their uncertainty: from its /api/time, else its
    Date header, or from the time endpoint URL with --json."""
    if not url.startswith(("http://", "https://")):
        click.echo("sniper: url: must start with http:// or https://", err=True)
        sys.exit(EXIT_CONFIG)
    if unit is not None and json_path is None:
        click.echo("sniper: --unit: goes with --json (the time endpoint's unit)", err=True)
        sys.exit(EXIT_CONFIG)
    endpoint = (
        None
        if json_path is None
        else _or_exit(commands.time_endpoint, url, json_path, unit or "ms")
    )
    sys.exit(
        _run_async(
            commands.clock_report(
                url, Console(), samples=samples, ca_file=ca_file, endpoint=endpoint
            )
        )
    )


@cli.command()
@click.argument("url")
@click.argument("user")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The cookie file to write (default USER.cookie), readable by you only.",
)
@click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from this file's first line (else SNIPER_PASSWORD, "
    "else a prompt that does not echo).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, path_type=Path),
    help="Extra CA certificates for https.",
)
def login(
    url: str, user: str, output: Path | None, password_file: Any, ca_file: Path | None
) -> None:
    """Log in to a store; write its session cookie to a file for a task's cookie_file."""
    from sniper.client.login import LoginFailed, check_user
    from sniper.client.login import login as log_in

    if not url.startswith(("http://", "https://")):
        click.echo("sniper: url: must start with http:// or https://", err=True)
        sys.exit(EXIT_CONFIG)
    _or_exit(check_user, user)
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = os.environ.get("SNIPER_PASSWORD") or click.prompt(
            f"password for {user}", hide_input=True, err=True
        )
    try:
        cookie = _run_async(log_in(url, user, password, ca_file=ca_file))
    except LoginFailed as exc:
        click.echo(f"sniper: {exc}", err=True)
        sys.exit(exc.exit_code)
    output = (output or Path(f"{user}.cookie")).absolute()  # a task may live elsewhere
    _or_exit(_write_private, output, cookie + "\n")
    click.echo(
        f"wrote {output} (cookie {redact(cookie)}, readable by you only); "
        f"in a task: cookie_file: {output}"
    )


@cli.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--store", help="Backend URL (default sqlite:///./store.db).")
@click.option("--admin-token", help="Token for the admin API (or SNIPER_ADMIN_TOKEN).")
@click.option("--workers", type=int, help="Worker processes sharing the store (default 1).")
@click.option("--clock-skew-ms", type=int, help="Shift the store's clock by this much.")
@click.option("--demo", is_flag=True, default=None, help="Create a demo item and user.")
@click.option(
    "--user-rate",
    "user_rate_per_s",
    type=float,
    help="Orders per second per user (0 = no limit; default 20).",
)
@click.option("--user-burst", type=int, help="Burst of orders per user (default 100).")
@click.option(
    "--global-rate",
    "global_rate_per_s",
    type=float,
    help="Orders per second for everyone (0 = no limit; default).",
)
@click.option("--global-burst", type=int, help="Burst of orders for everyone (default 10000).")
@click.option("--max-inflight", type=int, help="Requests in progress before 503 (default 10000).")
@click.option(
    "--cache-ttl",
    "cache_ttl_s",
    type=float,
    help="Seconds an item (and its sold-out flag) stays cached (default 1).",
)
@click.option(
    "--forwarded-allow-ips",
    help="Proxies trusted to name the client in X-Forwarded-For (comma-separated "
    "addresses or networks, or *); default none: the TCP peer is the client.",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    help="Items to create at start-up (YAML); existing items are left as they are.",
)
@click.option(
    "--orders-db",
    help="Redis store: SQL table the orders are copied into, sqlite:///PATH or "
    "postgresql://USER:PASSWORD@HOST:PORT/DB (default sqlite:///./orders.db).",
)
@click.option(
    "--sqlite-synchronous",
    type=click.Choice(["FULL", "NORMAL"]),
    help="FULL (default): orders survive power loss; NORMAL: faster, survive crashes.",
)
@click.option(
    "--pg-pool-size",
    type=int,
    help="PostgreSQL store: connections per process (default 10).",
)
@click.option(
    "--pg-timeout",
    "pg_timeout_s",
    type=float,
    help="PostgreSQL: seconds to connect and per statement, past which 503 (default 5).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="How much the store logs (default info).",
)
def serve(**flags: Any) -> None:
    """Run the flash-sale store."""
    from sniper.store.server import serve as run_store
    from sniper.store.settings import load_settings

    settings = _or_exit(load_settings, **flags)
    setup_logging(settings.log_level)
    try:
        _or_exit(run_store, settings)
    except StartError as exc:  # port taken, storage unreachable or unwritable: as a bad value
        click.echo(f"sniper: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _import_options(command: F) -> F:
    """The options both importers take: where to write, the item's id, the opening, --force."""
    for option in reversed(
        (
            click.option(
                "-o",
                "--output",
                type=click.Path(path_type=Path),
                default=Path("task.yaml"),
                show_default=True,
                help="The task file to write.",
            ),
            click.option("--sku-id", help="The item's id: where it appears, it becomes {sku_id}."),
            click.option("--target-time", help="The opening instant (RFC 3339 with offset)."),
            click.option(
                "--force", is_flag=True, help="Replace the task file and its cookie file."
            ),
        )
    ):
        command = option(command)
    return command


@cli.command("import-curl")
@click.argument("source", type=click.File("rb"), default="-")
@_import_options
def import_curl(
    source: Any, output: Path, sku_id: str | None, target_time: str | None, force: bool
) -> None:
    """Turn a browser's "Copy as cURL" (bash, or Windows cmd; FILE or stdin) into an
    http-platform task.

    The cookie goes to OUTPUT.cookie (readable by you only), never to the terminal."""
    from sniper.client.importer import curl_user_agent, plan_import
    from sniper.clock import SystemClock

    plan = _or_exit(
        plan_import,
        source.read(),
        output,
        sku_id=sku_id,
        target_time=target_time,
        force=force,
        clock=SystemClock(),
        user_agent=curl_user_agent(),
    )
    _write_plan(plan)


@cli.command("import-har")
@click.argument("source", type=click.File("rb"))
@click.option(
    "--pick",
    "picks",
    multiple=True,
    help="A request (its number, or text of its URL) as the next step; the last is the "
    "open step. Without --pick, the requests are listed and nothing is written.",
)
@_import_options
def import_har(
    source: Any,
    picks: tuple[str, ...],
    *,
    output: Path,
    sku_id: str | None,
    target_time: str | None,
    force: bool,
) -> None:
    """Turn a browser's "Save all as HAR" (Chrome or Firefox) into an http-platform flow.

    Values a picked request took from an earlier picked answer become saves and
    placeholders. The cookie goes to OUTPUT.cookie (readable by you only)."""
    from sniper.client.importer import har_listing, plan_har_import
    from sniper.clock import SystemClock

    data = source.read()
    if not picks:
        for line in _or_exit(har_listing, data):
            click.echo(line)
        return
    plan = _or_exit(
        plan_har_import,
        data,
        list(picks),
        output,
        sku_id=sku_id,
        target_time=target_time,
        force=force,
        clock=SystemClock(),
    )
    _write_plan(plan)


def _write_plan(plan: Any) -> None:
    """Write an import's files (both may carry secrets: the cookie, an Authorization header:
    yours alone), then say what was done."""
    for path, text in plan.files:
        _or_exit(_write_private, path, text)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(plan.summary)
    for note in plan.notes:
        click.echo(f"note: {note}")


@cli.group(invoke_without_command=True)
@click.option(
    "--url", help="Our own store, e.g. http://127.0.0.1:8000 (item and users made for the run)."
)
@click.option(
    "--file",
    "bench_file",
    type=click.Path(path_type=Path),
    help="A bench file: anyone's seckill endpoint, its users file and its stock.",
)
@click.option(
    "--admin-token",
    envvar="SNIPER_ADMIN_TOKEN",
    help="With --url: the store's admin token (or SNIPER_ADMIN_TOKEN).",
)
@click.option(
    "--users",
    type=click.IntRange(1, 20_000),
    help="With --url: buyers made through the admin API, each ordering once at the opening.",
)
@click.option(
    "--stock",
    type=click.IntRange(0, 1_000_000),
    help="With --url: units of the item (a bench file says its own).",
)
@click.option(
    "--at",
    "at",
    default="+2s",
    show_default=True,
    help="The opening on the target's clock: +2s / +1500ms from now, or an RFC 3339 "
    "time or HH:MM:SS (at most 1 h ahead).",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="With --file: only users K, K+N, K+2N… (one of N machines firing the same --at).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="With --url: units one user may buy.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(0.1, 600),
    default=30.0,
    show_default=True,
    help="Limit of each request and admin call.",
)
@click.option(
    "--keep",
    is_flag=True,
    help="With --url: leave the item and users made on the store (else removed after the run).",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--plot", type=click.Path(path_type=Path), help="Write a PNG of the run.")
@click.option(
    "--hdr",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the latency histogram's percentile distribution (HdrHistogram .hgrm).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra CA certificates for an https target.",
)
@click.pass_context
def bench(ctx: click.Context, /, **given: Any) -> None:
    """Burst load test: every user orders at one instant; the opening's checks (oversold,
    undersold, duplicates, fairness, latency). `sniper bench merge` joins shards."""
    if ctx.invoked_subcommand is not None:
        given_here = [
            param.opts[0]
            for param in ctx.command.params
            if ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.COMMANDLINE
        ]
        if given_here:
            click.echo(
                f"sniper: {given_here[0]}: not with `bench merge` (it takes the shards' --json "
                "files, and --json, --plot, --hdr after `merge`)",
                err=True,
            )
            sys.exit(EXIT_CONFIG)
        return
    from sniper.bench.at import parse_at
    from sniper.fdlimit import raise_fd_limit

    raise_fd_limit()
    _check_outputs(given)
    at = _or_exit(parse_at, given["at"])
    say = (lambda _: None) if given["as_json"] else click.echo
    if given["bench_file"] is not None:
        for name in ("url", "users", "stock", "limit", "admin_token"):
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                flag = "--" + name.replace("_", "-")
                click.echo(f"sniper: {flag}: not with --file (the bench file says it)", err=True)
                sys.exit(EXIT_CONFIG)
        report = _run_async(_bench_target(given, at, say))
    else:
        report = _run_async(_bench_store(given, at, say))
    _bench_out(report, given)


async def _bench_target(given: dict[str, Any], at: Any, say: Callable[[str], None]) -> Any:
    from sniper.bench.target import TargetOptions, run_target
    from sniper.bench.users import parse_shard

    if given["keep"]:
        raise ConfigError("--keep: only with --url (a bench file's target makes nothing)")
    if given["shard"] is not None and at.delay_s is not None:
        raise ConfigError(
            "--shard: give an absolute --at (an RFC 3339 time or HH:MM:SS), the same on every "
            "machine: shards started apart with a relative one fire apart"
        )
    which = None if given["shard"] is None else parse_shard(given["shard"])
    opts = TargetOptions(given["bench_file"], at, which, given["timeout_s"], given["ca_file"])
    return await run_target(opts, say)


async def _bench_store(given: dict[str, Any], at: Any, say: Callable[[str], None]) -> Any:
    from sniper.bench.run import BenchOptions, run_bench

    if given["url"] is None:
        raise ConfigError("give --file BENCH.yaml (any target) or --url of our store")
    for name in ("admin_token", "users", "stock"):
        if given[name] is None:
            raise ConfigError(f"--{name.replace('_', '-')}: needed with --url")
    if given["shard"] is not None:
        raise ConfigError("--shard: only with --file (a bench file's users file is what is split)")
    opts = BenchOptions(
        given["url"].rstrip("/"),
        given["admin_token"],
        given["users"],
        given["stock"],
        at,
        given["limit"],
        given["timeout_s"],
        given["ca_file"],
        keep=given["keep"],
    )
    return await run_bench(opts, say)


def _bench_out(report: dict[str, Any], given: dict[str, Any]) -> None:
    """A bench report to where it was asked: the plot, the histogram, the table or the JSON;
    then the exit code of its checks."""
    from sniper.bench.latency import write_hgrm
    from sniper.bench.report import exit_code, to_json
    from sniper.bench.show import show

    as_json, plot, hdr = given["as_json"], given["plot"], given.get("hdr")
    if "count_error" in report:
        click.echo(
            f"sniper: {report['count_error']} (the checks go by the answers alone)", err=True
        )
    late = _late_ms(report)
    if late is not None and late > LATE_WARN_MS:
        click.echo(
            f"sniper: warning: the first request left {late:.1f} ms after the opening on the "
            "target's clock (a busy machine, or an opening too close to open the connections "
            "in time): the figures count from the opening",
            err=True,
        )
    # The report first: a file that cannot be written after all must not cost the run's figures.
    if as_json:
        click.echo(to_json(report))
    else:
        show(report)
    if plot is not None:
        from sniper.bench.plot import plot as draw

        _or_exit(draw, report, plot)
        click.echo(f"wrote {plot}", err=as_json)
    if hdr is not None:
        _or_exit(write_hgrm, report, hdr)
        click.echo(f"wrote {hdr}", err=as_json)
    sys.exit(exit_code(report))


#: A first request later than this after the opening is worth a warning.
LATE_WARN_MS = 1.0


def _late_ms(report: dict[str, Any]) -> float | None:
    first, opening = report.get("first_send_server_ms"), report.get("opening_ms")
    return None if first is None or opening is None else float(first) - float(opening)


def _check_outputs(given: dict[str, Any]) -> None:
    """The files asked for (``--plot``, ``--hdr``) can be written, and matplotlib is there for a
    plot: found before the run, not after it."""
    from sniper.bench.plot import check_plot_path, require_matplotlib
    from sniper.files import check_writable

    if given["plot"] is not None:
        _or_exit(require_matplotlib)
        _or_exit(check_plot_path, given["plot"])
        _or_exit(check_writable, "plot", given["plot"])
    if given.get("hdr") is not None:
        _or_exit(check_writable, "hdr", given["hdr"])


@bench.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--plot", type=click.Path(path_type=Path), help="Write a PNG of the merged run.")
@click.option(
    "--hdr",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the merged latency histogram's percentile distribution (.hgrm).",
)
def bench_merge(
    files: tuple[Path, ...], as_json: bool, plot: Path | None, hdr: Path | None
) -> None:
    """Merge the --json reports of the shards of one opening into one report."""
    from sniper.bench.merge import load_reports, merge

    _check_outputs({"plot": plot, "hdr": hdr})
    reports = _or_exit(load_reports, list(files))
    merged = _or_exit(merge, reports, [str(f) for f in files])
    _bench_out(merged, {"as_json": as_json, "plot": plot, "hdr": hdr})


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@lang_option("The table's language.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document: the records and a summary per task, shop and item.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG: the shop's opening as seen and our lateness, over the openings.",
)
@click.option("--task", metavar="NAME", help="Only this task's openings.")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Only the last N openings.")
def history(
    file: Path,
    *,
    lang: str,
    as_json: bool,
    plot: Path | None,
    task: str | None,
    last: int | None,
) -> None:
    """Show a history file: one row per opening, when the shop opened and how we did."""
    from sniper.bench.plot import require_matplotlib
    from sniper.client.historyshow import show_history

    if plot is not None:
        _or_exit(require_matplotlib)
    _or_exit(
        show_history,
        file,
        lang=lang,
        as_json=as_json,
        plot=plot,
        task=task,
        last=last,
        out=sys.stdout,
        err=sys.stderr,
    )


@cli.command()
@lang_option("Console language.")
def demo(lang: str) -> None:
    """Start a store, open a sale a few seconds ahead, snipe it beside a crowd, show who won."""
    from sniper.demo import run_demo

    sys.exit(_run_async(run_demo(lang)))


def _write_private(path: Path, text: str) -> None:
    """:func:`~sniper.files.write_private`; a ConfigError naming the file if it cannot be
    written."""
    try:
        write_private(path, text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a signal exits 130/143, a ConfigError or a refused admin call
    exits 2 with one line."""
    try:
        return asyncio.run(run_until_signal(work))
    except Interrupted as exc:
        sys.exit(exc.code)
    except (ConfigError, AdminError) as exc:
        click.echo(f"sniper: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except (ConnectionBroken, ClockError) as exc:
        click.echo(f"sniper: {exc}", err=True)
        sys.exit(1)


def _or_exit(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a ConfigError becomes one line on stderr and exit code 2."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        click.echo(f"sniper: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def main() -> None:
    """Console-script entry point."""
    cli()
