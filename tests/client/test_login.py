"""``sniper login``'s answers, against a real loopback server that answers as scripted."""

from __future__ import annotations

import pytest

from sniper.client.login import LoginFailed, login
from sniper.errors import ConfigError
from tests.client.fault_server import FaultServer, Step, refuse


@pytest.mark.parametrize("user", ["no spaces", "x" * 65, "", "bad\nname", "ünicode"])
async def test_a_bad_user_name_is_refused_before_sending(user: str) -> None:
    """Not a store user name: one line saying the rule, nothing sent."""
    async with FaultServer([], login=refuse(400, "bad_request")) as server:
        with pytest.raises(ConfigError) as info:
            await login(server.url, user, "pw")
    assert str(info.value) == "user: a store user name is 1-64 letters, digits, - and _"
    assert server.requests == []


@pytest.mark.parametrize(
    ("answer", "message", "code"),
    [
        (
            refuse(503, "unavailable", headers=(("Retry-After", "2"),)),
            "is too busy to log anyone in (HTTP 503: unavailable); try again in 2 s",
            1,
        ),
        (
            Step(
                503,
                {"error": "unavailable", "message": "too many logins\x1b[2J at once"},
                headers=(("Retry-After", "Wed, 21 Oct 2037 07:28:00 GMT\x1b]0;x\x07"),),
            ),
            "is too busy to log anyone in (HTTP 503: too many logins[2J at once); try again after "
            "Wed, 21 Oct 2037 07:28:00 GMT]0;x",
            1,
        ),
        (
            refuse(429, "rate_limited"),
            "refuses more login attempts for now; try again in a moment",
            1,
        ),
        (
            refuse(429, "rate_limited", headers=(("Retry-After", "7\x1b[31m"),)),
            "refuses more login attempts for now; try again after 7[31m",
            1,
        ),
        (
            Step(400, {"error": "bad_request", "message": "password: too long"}),
            "refused the request as malformed (HTTP 400: password: too long)",
            2,
        ),
        (Step(418, raw=b"teapot"), "answered HTTP 418 (is it a vegetable-sniper store?)", 1),
        (
            Step(400, raw=b"[" * 100_000),
            "refused the request as malformed (HTTP 400)",
            2,
        ),
    ],
)
async def test_each_refusal_says_what_it_is(answer: Step, message: str, code: int) -> None:
    """503 (its password hashing is busy) and 400 have lines of their own; a Retry-After or
    message from the server is shown without its control characters; no Retry-After is not
    "a few s"."""
    async with FaultServer([], login=answer) as server:
        with pytest.raises(LoginFailed) as info:
            await login(server.url, "demo", "pw")
    host = server.url.removeprefix("http://")
    assert (str(info.value), info.value.exit_code) == (f"login: {host} {message}", code)
