"""Platforms by name: the built-in ones, then plugins of the ``sniper.platforms`` entry-point group.

A plugin is a :class:`~sniper.client.platforms.base.Platform` subclass registered as
``[project.entry-points."sniper.platforms"] myshop = "mypkg.shop:MyShop"``. Entry points are read
only when a name is not built in: no import has side effects.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from sniper.client.config import TaskConfig
from sniper.client.platforms.base import LOGIN, Platform, Probe
from sniper.client.platforms.http import HttpPlatform
from sniper.client.platforms.store import StorePlatform
from sniper.errors import ConfigError

BUILTIN: dict[str, type[Platform]] = {"store": StorePlatform, "http": HttpPlatform}
GROUP = "sniper.platforms"


def platform_class(name: str) -> type[Platform]:
    """The platform called ``name``; ConfigError naming ``platform`` if there is none."""
    if name in BUILTIN:
        return BUILTIN[name]
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            loaded = entry.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Platform)):
                raise ConfigError(f"platform: plugin {name!r} is not a Platform class")
            return loaded
    known = sorted({*BUILTIN, *(e.name for e in entry_points(group=GROUP))})
    raise ConfigError(f"platform: unknown {name!r} (known: {', '.join(known)})")


def platform_for(task: TaskConfig, cookie: str | None = None) -> Platform:
    """The task's platform with ``cookie`` (by default the task's own): the one place a platform
    is made."""
    return platform_class(task.platform)(task, cookie or task.cookie_value())


__all__ = [
    "BUILTIN",
    "GROUP",
    "LOGIN",
    "HttpPlatform",
    "Platform",
    "Probe",
    "StorePlatform",
    "platform_class",
    "platform_for",
]
