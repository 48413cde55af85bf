"""``python -m sniper``: the same as the ``sniper`` command."""

from sniper.cli import main

main()
