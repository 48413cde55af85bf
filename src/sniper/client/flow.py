"""A flow: the ``http`` platform's checkout in steps. Pure (the cookie jar is in memory; time is
passed in).

:class:`Flow` holds one task's steps, the values its ``before`` steps saved and its cookie jar; it
builds each step's request (placeholders filled, cookies from the jar) and reads each answer
(``expect``, ``save``). :class:`FlowCheckout` is one connection's way through the ``open`` steps
at the opening: each answer either hands on the next step's request at once or is a verdict for
the run's policy (a ``not_started`` starts again from the first ``open`` step).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sniper.client.answers import classify, matches, refusal, text_and_data
from sniper.client.checkout import StepFailed
from sniper.client.config import HttpRules, Save, Step, TaskConfig, header_safe, step_url
from sniper.client.connection import HttpCall, Origin, Response
from sniper.client.cookiejar import CookieJar
from sniper.client.jsonpath import MISSING, json_lookup
from sniper.client.outcome import Kind, Verdict, by_status
from sniper.client.placeholders import (
    BUILTINS,
    MissingValue,
    Template,
    Where,
    body_kind,
    names_in,
)
from sniper.errors import ConfigError

#: What a request target may hold: printable ASCII, no space.
_REQUEST_TARGET = re.compile(r"[\x21-\x7e]+")
#: Never taken from the step: the connection and the jar say these.
_OWN_HEADERS = frozenset({"cookie", "host", "content-length"})


def _exact_only(rules: HttpRules) -> HttpRules:
    """The defaults an earlier ``open`` step is read by: only the exact JSON codes, never the
    default regexes (a token's answer may well say ``"soldOut":false`` or 每人限购1件)."""
    return rules.model_copy(
        update={
            kind: [m for m in getattr(rules, kind) if m.json_path is not None]
            for kind in ("sold_out", "not_started", "limit_reached")
        }
    )


#: The earlier ``open`` steps' refusals when they have no ``rules`` of their own.
_EARLY_DEFAULTS = _exact_only(HttpRules())


@dataclass(frozen=True, slots=True)
class Built:
    """A step's request, ready to send, and the absolute URL and origin it goes to."""

    step: Step
    url: str
    origin: Origin
    call: HttpCall


@dataclass(frozen=True, slots=True)
class _Form:
    """A step's request cut into templates once, so that building it is filling them."""

    method: str
    url: Template
    #: Where the URL goes, when it holds no placeholder.
    origin: Origin | None
    #: Each header: its value as written, or the template that fills it.
    headers: tuple[tuple[str, str | Template], ...]
    body: Template | None

    @classmethod
    def of(cls, step: Step, base_url: str, known: frozenset[str]) -> _Form:
        """``step``'s request, cut."""
        request = step.request
        url = Template.of(step_url(request.url, base_url), known, Where.URL)
        headers = tuple(
            (name, Template.of(text, known, Where.HEADER) if names_in(text, known) else text)
            for name, text in request.headers.items()
            if name.lower() not in _OWN_HEADERS
        )
        kind = body_kind(
            next((v for k, v in request.headers.items() if k.lower() == "content-type"), None)
        )
        return cls(
            request.method.upper(),
            url,
            None if url.slots else Origin.from_url(url.pieces[0]),
            headers,
            Template.of(request.body, known, kind) if request.body else None,
        )

    def slots(self) -> set[str]:
        """The names its URL, headers and body take."""
        templates = [self.url, self.body, *(t for _, t in self.headers if isinstance(t, Template))]
        return {name for t in templates if t is not None for name, _ in t.slots}


class Flow:
    """One task's steps, what its ``before`` steps saved, and its cookie jar."""

    def __init__(self, task: TaskConfig, cookie: str, *, jar: CookieJar | None = None) -> None:
        self.task = task
        self.steps = task.steps
        self.before = [s for s in self.steps if s.when == "before"]
        self.opening = self.steps.index(next(s for s in self.steps if s.when == "open"))
        self.known = frozenset(BUILTINS) | {name for s in self.steps for name in s.save}
        self.jar = jar if jar is not None else CookieJar(cookie)
        #: What the ``before`` steps saved, the last time they ran.
        self.saved: dict[str, object] = {}
        #: Every text any step saved: never logged or shown.
        self.secrets: set[str] = set()
        self._forms = {s.name: _Form.of(s, task.base_url, self.known) for s in self.steps}
        first = step_url(self.steps[self.opening].request.url, task.base_url)
        self.origin = Origin.from_url(task.base_url if first.startswith("{") else first)

    def carries(self, name: str) -> bool:
        """Whether an ``open`` step sends ``{name}`` (in its URL, a header or its body)."""
        return any(name in self._forms[step.name].slots() for step in self.steps[self.opening :])

    def values(self, request_id: str) -> dict[str, object]:
        """The values every step may use: the built-ins and what the ``before`` steps saved."""
        return {
            "sku_id": self.task.sku_id,
            "qty": self.task.qty,
            "request_id": request_id,
            **self.saved,
        }

    def build(self, step: Step, values: Mapping[str, object], now_ms: float) -> Built:
        """``step``'s request with its placeholders filled and the jar's cookies;
        :class:`StepFailed` when a value is missing or cannot go where it stands."""
        form = self._forms[step.name]
        filled = {**values, "now_ms": int(now_ms)}
        try:
            url = form.url.fill(filled)
            headers = [
                (
                    name,
                    value
                    if isinstance(value, str)
                    else header_safe(
                        value.fill(filled), f"step {step.name}: request.headers.{name}"
                    ),
                )
                for name, value in form.headers
            ]
            body = form.body.fill(filled).encode() if form.body is not None else b""
        except MissingValue as exc:
            raise StepFailed(f"step {step.name}: {exc}") from None
        except ConfigError as exc:
            raise StepFailed(str(exc)) from None
        try:
            origin = form.origin or Origin.from_url(url)
        except ValueError:  # a bad port or host in a URL a value made
            origin = None
        target = _target(url) if origin is not None else ""
        if origin is None or not origin.host or origin.scheme not in ("http", "https"):
            raise StepFailed(f"step {step.name}: its URL is not an http(s) URL once filled")
        if not _REQUEST_TARGET.fullmatch(target):
            raise StepFailed(
                f"step {step.name}: its URL holds what cannot be sent once filled (a space, a "
                "line break, a character that is not ASCII)"
            )
        cookie = self.jar.header(url)
        if cookie:
            headers.append(("Cookie", cookie))
        call = HttpCall(form.method, target, tuple(headers), body)
        return Built(step, url, origin, call)

    def ready_cookies(self) -> None:
        """The jar's Cookie header for every ``open`` step whose URL no value can change, made
        now (the jar keeps it until it changes)."""
        for step in self.steps[self.opening :]:
            form = self._forms[step.name]
            if not form.url.slots:
                self.jar.header(form.url.pieces[0])

    def read(self, built: Built, response: Response) -> dict[str, object]:
        """Take the answer's cookies, check ``expect``, and answer what the step saves;
        :class:`StepFailed` (naming the step, showing no value) when the answer is not what the
        step expects."""
        step = built.step
        self.jar.update(built.url, response.headers)
        text, data = text_and_data(response)
        expect, where = step.expect, f"step {step.name}"
        wanted = expect.status
        if (response.status not in wanted) if wanted else not 200 <= response.status < 300:
            said = ", ".join(map(str, wanted)) if wanted else "2xx"
            raise StepFailed(f"{where}: expected HTTP {said}, got HTTP {response.status}")
        rule = expect.rule
        if rule is not None and matches(rule, text, data) is None:
            raise StepFailed(f"{where}: the answer does not match expect ({_said(expect)})")
        found = {}
        for name, save in step.save.items():
            cookie = self.jar.value(save.cookie, built.url) if save.cookie else None
            value = _saved(save, response, text, data, cookie)
            if value is None or value == "":
                raise StepFailed(f"{where}: save {name}: {save.source} is not in the answer")
            found[name] = value
            if isinstance(value, str):  # a token, an id: text; a number is no secret
                self.secrets.add(value)
        return found


def _saved(save: Save, response: Response, text: str, data: Any, cookie: str | None) -> object:
    """The value a ``save`` finds in an answer (None: not there); ``cookie``: the jar's value
    of the cookie it names."""
    if save.json_path is not None:
        found = json_lookup(data, save.json_path)
        return None if found is MISSING else found
    if save.regex is not None:
        match = re.search(save.regex, text)
        return match.group(1) if match else None
    if save.header is not None:
        return response.header(save.header)
    return cookie


def _target(url: str) -> str:
    """The request target of an absolute URL: its path and query, exactly as written."""
    rest = url.split("://", 1)[1]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    target = rest[cut:].split("#", 1)[0]
    return target if target.startswith("/") else "/" + target


def _said(expect: Any) -> str:
    if expect.json_path is not None:
        return (
            f"{expect.json_path} = {expect.equals!r}"
            if expect.equals is not None
            else (f"{expect.json_path} present")
        )
    return f"regex {expect.regex}"


class FlowCheckout:
    """One connection's way through the ``open`` steps; see :class:`~sniper.client.checkout.
    Checkout`."""

    def __init__(self, flow: Flow, request_id: str, server_now_ms: Callable[[], float]) -> None:
        self._flow, self._request_id, self._now = flow, request_id, server_now_ms
        self._index = flow.opening
        self._values: dict[str, object] = {}
        self._built: Built | None = None

    @property
    def step(self) -> str:
        """The name of the step on its way."""
        return self._flow.steps[self._index].name

    def first(self, at_server_ms: float) -> HttpCall:
        """The first ``open`` step, with ``{now_ms}`` the planned arrival. The later steps'
        cookies are looked up now, so that each goes the moment its answer is in."""
        call = self._restart(at_server_ms)
        self._flow.ready_cookies()
        return call

    def _restart(self, now_ms: float) -> HttpCall:
        self._index = self._flow.opening
        self._values = self._flow.values(self._request_id)
        return self._send(now_ms)

    def _send(self, now_ms: float) -> HttpCall:
        built = self._flow.build(self._flow.steps[self._index], self._values, now_ms)
        if built.origin != self._flow.origin:
            raise StepFailed(
                f"step {built.step.name}: goes to {built.origin.host_header}, not to "
                f"{self._flow.origin.host_header} (the 'open' steps share the burst's connections)"
            )
        self._built = built
        return built.call

    def next(self, response: Response) -> HttpCall | Verdict:
        """The last step's answer is the platform's verdict; an earlier step's is a refusal, a
        status the run reacts to, a failed ``expect`` (retried), or the next step's request."""
        built = self._built
        assert built is not None  # first() came before
        step, flow = built.step, self._flow
        if step is flow.steps[-1]:
            flow.jar.update(built.url, response.headers)
            return classify(step.rules or flow.task.rules, response)
        text, data = text_and_data(response)
        refused = refusal(step.rules or _EARLY_DEFAULTS, text, data)
        if refused is not None:
            flow.jar.update(built.url, response.headers)
            return refused
        verdict = by_status(response)
        if verdict is not None:
            flow.jar.update(built.url, response.headers)
            return Verdict(
                verdict.kind,
                retry_after_s=verdict.retry_after_s,
                detail=f"{step.name}: {verdict.detail}",
            )
        try:
            self._values.update(flow.read(built, response))
        except StepFailed as exc:  # retried inside the window: the shop may answer better
            return Verdict(Kind.RETRY, detail=str(exc))
        self._index += 1
        try:
            return self._send(self._now())
        except StepFailed as exc:  # no answer can change what cannot be built
            return Verdict(Kind.FATAL, detail=str(exc))

    def again(self, verdict: Verdict) -> HttpCall:
        """After ``not_started``, the flow from its first ``open`` step; else the same step."""
        if verdict.kind is Kind.NOT_STARTED:
            return self._restart(self._now())
        return self._send(self._now())
