"""The command line as a newcomer meets it: every option says what it does."""

from __future__ import annotations

import click
import pytest

from sniper.cli import cli


def _commands() -> list[tuple[str, click.Command]]:
    assert isinstance(cli, click.Group)
    return [
        ("sniper", cli),
        *((f"sniper {name}", command) for name, command in sorted(cli.commands.items())),
    ]


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[n for n, _ in _commands()])
def test_every_option_has_help(name: str, command: click.Command) -> None:
    """``--help`` describes every option of every command, and the command itself."""
    assert command.help, name
    missing = [
        p.name
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not p.help
    ]
    assert missing == [], f"{name}: options without help: {missing}"
