"""The open-files limit: an opening's connections are checked against it before anything is
sent."""

from __future__ import annotations

import resource

import pytest

from sniper.errors import ConfigError
from sniper.fdlimit import FD_RESERVE, check_fd_room


def test_room_for_the_connections_and_the_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1024))
    check_fd_room(1024 - FD_RESERVE)
    with pytest.raises(ConfigError, match=r"^1000 connections need 1064 open files .* 1024: "):
        check_fd_room(1000)


def test_no_limit_is_room_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    unlimited = resource.RLIM_INFINITY
    monkeypatch.setattr(resource, "getrlimit", lambda _: (unlimited, unlimited))
    check_fd_room(1_000_000)
