"""The sniper: order at the opening instant on the server's clock.

The names below are the platform plugin API. A plugin subclasses :class:`Platform`: it builds
the order request (an :class:`HttpCall`) and says what a :class:`Response` means (a
:class:`Verdict` of some :class:`Kind`); optionally it has a time endpoint and the
:class:`Probe` requests that ``sniper check`` sends. It is registered as an entry point of the
``sniper.platforms`` group (see :mod:`sniper.client.platforms`). Everything else in this package
may change without notice.
"""

from sniper.client.connection import HttpCall, Response
from sniper.client.outcome import Kind, Verdict
from sniper.client.platforms import Platform, Probe

__all__ = ["HttpCall", "Kind", "Platform", "Probe", "Response", "Verdict"]
