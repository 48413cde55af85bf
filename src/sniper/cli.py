"""The ``sniper`` command: parse, build objects, run one thing. No logic lives here."""

from __future__ import annotations

import sys
from typing import Any

import click

from sniper import __version__
from sniper.errors import ConfigError
from sniper.logs import setup_logging

EXIT_CONFIG = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sniper")
def cli() -> None:
    """vegetable-sniper: order at the opening instant; run a flash-sale store."""


@cli.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--store", help="Backend URL (default sqlite:///./store.db).")
@click.option("--admin-token", help="Token for the admin API (or SNIPER_ADMIN_TOKEN).")
@click.option("--workers", type=int, help="Worker processes sharing the store (default 1).")
@click.option("--clock-skew-ms", type=int, help="Shift the store's clock by this much.")
@click.option("--demo", is_flag=True, default=None, help="Create a demo item and user.")
@click.option("--user-rate", "user_rate_per_s", type=float,
              help="Orders per second per user (0 = no limit; default 20).")
@click.option("--user-burst", type=int, help="Burst of orders per user (default 100).")
@click.option("--global-rate", "global_rate_per_s", type=float,
              help="Orders per second for everyone (0 = no limit; default).")
@click.option("--max-inflight", type=int, help="Requests in progress before 503 (default 10000).")
@click.option("--cache-ttl", "cache_ttl_s", type=float,
              help="Seconds an item (and its sold-out flag) stays cached (default 1).")
@click.option("--sqlite-synchronous", type=click.Choice(["FULL", "NORMAL"]),
              help="FULL (default): orders survive power loss; NORMAL: faster, survive crashes.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(**flags: Any) -> None:
    """Run the flash-sale store."""
    from sniper.store.server import serve as run_store
    from sniper.store.settings import load_settings

    settings = _or_exit(load_settings, **flags)
    setup_logging(settings.log_level)
    _or_exit(run_store, settings)


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
