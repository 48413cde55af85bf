"""The task file: defaults < YAML < ``SNIPER_*`` environment (``__`` nests) < command-line flags.

Every value is validated before anything is sent. A bad one becomes a :class:`ConfigError`
whose one-line message names the field. The cookie may come from the file, ``SNIPER_COOKIE`` or
``cookie_file``; it is a secret and is only ever shown through :func:`redact`.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import pydantic
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from sniper.client import openings
from sniper.client.notify import Channel
from sniper.client.openings import Schedule
from sniper.client.placeholders import BUILTINS, names_in
from sniper.errors import ConfigError
from sniper.files import open_private
from sniper.rfc3339 import TIME_EXAMPLE
from sniper.validation import describe

Positive = Annotated[float, Field(gt=0)]
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")  # with fullmatch: "$" would allow a final "\n"
_URL_TEXT = re.compile(r"[\x21-\x7e]+")


def header_safe(value: str, field: str) -> str:
    """A value that can go into an HTTP header as it is: printable ASCII, no line breaks."""
    if not _HEADER_VALUE.fullmatch(value):
        raise ConfigError(
            f"{field}: only printable ASCII can go into an HTTP header "
            "(no line breaks, no other characters)"
        )
    return value


def _dotted(value: str) -> str:
    if "" in value.split("."):
        raise ValueError("must be a dotted path like data.items.0.price (no empty step)")
    return value


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:  # found now, not at the opening
        raise ValueError(f"regex does not compile: {exc}") from None
    return value


#: A JSON path as task files write it (``data.items.0.price``): no empty step.
JsonPath = Annotated[str, AfterValidator(_dotted)]
#: A regex, compiled when the file is read.
Pattern = Annotated[str, AfterValidator(_compiles)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Strict):
    """Keep trying this long after the opening, paced by a token bucket."""

    window_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    rate_per_s: Annotated[float, Field(gt=0, le=1000)] = 5.0
    burst: Annotated[int, Field(ge=1, le=1000)] = 5


class Match(_Strict):
    """A rule on a response body: a JSON path (dotted, list indices as numbers) or a regex."""

    json_path: JsonPath | None = Field(None, alias="json")
    equals: Any = None
    regex: Pattern | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Match:
        if (self.json_path is None) == (self.regex is None):
            raise ValueError('give one of "json" or "regex"')
        return self


class HttpRequest(_Strict):
    """The user's own captured request, replayed by the ``http`` platform.

    ``url``, header values and ``body`` may hold ``{sku_id}``, ``{qty}`` and ``{request_id}``.
    """

    method: Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$")] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None

    @field_validator("url")
    @classmethod
    def _sendable_url(cls, value: str) -> str:
        if not _URL_TEXT.fullmatch(value):
            raise ValueError("must be a URL without spaces or non-ASCII (percent-encode them)")
        return value

    @field_validator("headers")
    @classmethod
    def _ascii_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.fullmatch(
                r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name
            ) or not _HEADER_VALUE.fullmatch(text):
                raise ValueError(
                    f"header {name[:40]!r} is not valid in HTTP "
                    "(printable ASCII only, no line breaks)"
                )
        return value


class HttpRules(_Strict):
    """How the ``http`` platform reads an answer."""

    success_status: list[int] = Field(default_factory=lambda: [200, 201])
    success: Match | None = None
    order_id: list[Match] = Field(
        default_factory=lambda: [
            Match(json="order_id"),
            Match(json="orderId"),
            Match(json="data.order_id"),
            Match(json="data.orderId"),
        ]
    )
    sold_out: list[Match] = Field(
        default_factory=lambda: [
            Match(json="error", equals="sold_out"),
            Match(regex="(?i)sold.?out|售罄|已抢光"),
        ]
    )
    not_started: list[Match] = Field(
        default_factory=lambda: [
            Match(json="error", equals="not_started"),
            Match(regex="(?i)not.?started|未开始"),
        ]
    )
    limit_reached: list[Match] = Field(
        default_factory=lambda: [
            Match(json="error", equals="limit_reached"),
            Match(regex="(?i)limit.?reached|限购"),
        ]
    )


class Save(_Strict):
    """Where a step finds a value to keep for later steps: a JSON path, a regex's one group, a
    header, or a cookie the shop set."""

    json_path: JsonPath | None = Field(None, alias="json", min_length=1)
    regex: Pattern | None = None
    header: str | None = Field(None, min_length=1)
    cookie: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Save:
        given = [k for k in ("json_path", "regex", "header", "cookie") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError('give one of "json", "regex", "header" or "cookie"')
        if self.regex is not None:
            groups = re.compile(self.regex).groups
            if groups != 1:
                raise ValueError(f"regex must have exactly one (group), it has {groups}")
        return self

    @property
    def source(self) -> str:
        """Where the value comes from, as the task file says it (for messages)."""
        for key, label in (("json_path", "json"), ("regex", "regex"), ("header", "header")):
            value = getattr(self, key)
            if value is not None:
                return f"{label} {value}"
        return f"cookie {self.cookie}"


class Expect(_Strict):
    """What a step's answer must look like: its status (any 2xx unless given) and optionally a
    body rule (a JSON path, with ``equals``, or a regex)."""

    status: list[int] | None = None
    json_path: JsonPath | None = Field(None, alias="json", min_length=1)
    equals: Any = None
    regex: Pattern | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Expect:
        if self.json_path is not None and self.regex is not None:
            raise ValueError('give "json" or "regex", not both')
        if self.equals is not None and self.json_path is None:
            raise ValueError('"equals" needs a "json" path')
        return self

    @property
    def rule(self) -> Match | None:
        """The body rule, as a :class:`Match`."""
        if self.json_path is not None:
            return Match(json=self.json_path, equals=self.equals)
        if self.regex is not None:
            return Match(regex=self.regex)
        return None


#: What an open step before the last may say of an answer (only the last one makes an order).
EARLY_RULES = frozenset({"not_started", "sold_out", "limit_reached"})
_SAVE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class Step(_Strict):
    """One request of a flow: when it runs, what it sends, what its answer must be, what it
    keeps."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    when: Literal["before", "open"] = "open"
    request: HttpRequest
    expect: Expect = Expect()
    save: dict[str, Save] = Field(default_factory=dict)
    rules: HttpRules | None = None


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL with a good host and port; else ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018  # raises for a port out of range or not a number
        parts.hostname.encode("idna")
    except (ValueError, UnicodeError):
        raise ValueError("has a bad port or host name") from None
    return value


class ClockConfig(_Strict):
    """A shop's own time endpoint: ``GET url`` answers JSON with the time at the dotted path
    ``json``, in epoch ``ms`` or ``s``."""

    url: str
    json_path: str = Field(alias="json")
    unit: Literal["ms", "s"] = "ms"

    @field_validator("url")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        if not _URL_TEXT.fullmatch(value):
            raise ValueError("must be a URL without spaces or non-ASCII (percent-encode them)")
        return http_url(value)

    @field_validator("json_path")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not value or "" in value.split("."):
            raise ValueError("must be a dotted path to the time, like data.now")
        return value


class TaskConfig(_Strict):
    """One task: an account, an item, an opening instant, and how hard to try."""

    name: str = "task"
    platform: str = "store"
    base_url: str
    cookie: SecretStr | None = None
    cookie_file: Path | None = None
    sku_id: Annotated[str, Field(min_length=1, max_length=200)]
    #: The opening this run is for; None for a repeating task between its openings (each of
    #: them runs as :meth:`at` that opening). What the file said is :attr:`openings`.
    target_time: datetime | None
    tz: str | None = None
    repeat: Literal["daily", "weekdays"] | None = None
    dates: list[date] = Field(default_factory=list)
    repeat_until: Literal["ordered"] | None = None
    #: Built from the five fields above when the file is read; never given.
    openings: InstanceOf[Schedule] = Field(Schedule(), exclude=True)
    history_file: Path = Path("sniper-history.jsonl")
    aim: Literal["published", "learned"] = "published"
    clock: ClockConfig | None = None
    qty: Annotated[int, Field(ge=1, le=1000)] = 1
    concurrency: Annotated[int, Field(ge=1, le=64)] = 3
    preheat_ms: Annotated[int, Field(ge=0, le=60_000)] = 500
    preflight_s: Annotated[float, Field(ge=0, le=86_400)] = 300.0
    retry: RetryConfig = RetryConfig()
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    log_file: Path = Path("sniper.log")
    lang: Literal["en", "zh"] = "en"
    ca_file: Path | None = None
    request: HttpRequest | None = None
    flow: Annotated[list[Step], Field(min_length=1, max_length=20)] | None = None
    rules: HttpRules = HttpRules()
    notify: list[Channel] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value).rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _read_openings(cls, data: Any) -> Any:
        """The schedule from ``target_time`` and the fields that make it repeat; the
        ``target_time`` of a one-off task is its instant, of a repeating one None."""
        if not isinstance(data, dict) or "target_time" not in data:
            return data  # not a mapping, or no target_time: the field's own error says so
        if "openings" in data:
            raise ValueError("openings: unknown field")
        texts = _target_texts(data["target_time"])
        dates = data.get("dates") or []
        if not isinstance(dates, list):
            raise ValueError("dates: must be a list of days such as 2024-04-15")
        for name in ("tz", "repeat", "repeat_until"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"{name}: must be text")
        built = openings.schedule(
            texts,
            tz=data.get("tz"),
            repeat=data.get("repeat"),
            dates=[d.isoformat() if isinstance(d, date) else str(d) for d in dates],
            repeat_until=data.get("repeat_until"),
        )
        return {**data, "target_time": built.once, "openings": built}

    @model_validator(mode="after")
    def _platform_needs(self) -> TaskConfig:
        if self.request is not None and self.flow is not None:
            raise ValueError("give 'request' (one request) or 'flow' (steps), not both")
        if self.platform == "http" and self.request is None and self.flow is None:
            raise ValueError("the http platform needs a 'request' or a 'flow' section")
        for step in self.steps:
            self._sku_fits_headers(step.request)
        if self.flow is not None:
            check_flow(self.flow, self.base_url)
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file: {self.ca_file} is not a file")
        return self

    def _sku_fits_headers(self, request: HttpRequest) -> None:
        """A header that holds ``{sku_id}`` needs an item id that can go into a header; said
        now, not at the opening."""
        for name, text in request.headers.items():
            if "{sku_id}" in text and not _HEADER_VALUE.fullmatch(self.sku_id):
                raise ValueError(
                    f"sku_id: cannot go into header {name} (request.headers): "
                    "printable ASCII only, no line breaks"
                )

    @property
    def steps(self) -> list[Step]:
        """The flow's steps; a single ``request`` is a one-step flow (an ``open`` step with the
        task's rules); none for a platform with neither."""
        if self.flow is not None:
            return self.flow
        if self.request is None:
            return []
        return [Step(name="order", when="open", request=self.request, rules=self.rules)]

    @property
    def opening(self) -> datetime:
        """The opening this run is for (server clock)."""
        if self.target_time is None:
            raise ValueError("a repeating task runs one opening at a time: task.at(opening)")
        return self.target_time

    @property
    def target_ms(self) -> int:
        """The opening instant in epoch milliseconds (server clock)."""
        return int(self.opening.timestamp() * 1000)

    def at(self, opening: datetime) -> TaskConfig:
        """This task for one of its openings."""
        return self.model_copy(update={"target_time": opening})

    @property
    def _given_cookie(self) -> str | None:
        """The cookie the task gives itself (an empty one is none: ``SNIPER_COOKIE=``)."""
        return (self.cookie.get_secret_value() or None) if self.cookie is not None else None

    @property
    def cookie_path(self) -> Path | None:
        """The file the cookie is read from; None when the task gives the cookie itself."""
        return None if self._given_cookie is not None else self.cookie_file

    def cookie_value(self) -> str:
        """The cookie header value: from ``cookie``, else read from ``cookie_file``."""
        given = self._given_cookie
        if given is not None:
            return header_safe(given.strip(), "cookie")
        if self.cookie_file is not None:
            try:
                text = self.cookie_file.read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not text"
                raise ConfigError(
                    f"cookie_file: cannot read {self.cookie_file}: {reason}"
                ) from None
            if text:
                return header_safe(text, "cookie_file")
            raise ConfigError(f"cookie_file: {self.cookie_file} is empty")
        raise ConfigError("cookie: missing (set it in the file, SNIPER_COOKIE or cookie_file)")


def _target_texts(value: Any) -> str | list[str]:
    """``target_time`` as written: an instant, a time of day, or a list of times of day;
    ValueError for a value YAML read as something else (a number, a time with no offset)."""
    if isinstance(value, datetime):  # YAML parses unquoted instants itself
        if value.tzinfo is None:
            raise ValueError(f"target_time: needs an offset, e.g. {TIME_EXAMPLE}")
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):  # 17:00:00 unquoted, too
        raise ValueError(
            f"target_time: must be RFC 3339 with an offset, e.g. {TIME_EXAMPLE}, or a time of "
            'day in quotes ("07:00:00+08:00"), not a number'
        )
    raise ValueError(
        f"target_time: must be RFC 3339 with an offset, e.g. {TIME_EXAMPLE}, or times of day"
    )


def step_url(url: str, base_url: str) -> str:
    """A step's URL made absolute: a path (``/api/cart``) is joined to ``base_url``."""
    return base_url + url if url.startswith("/") else url


def check_flow(flow: list[Step], base_url: str) -> None:
    """What a flow must be beyond each step's own fields: names unique, ``before`` steps
    first, at least one ``open`` step (all to one origin), order rules only on the last step,
    every placeholder saved by an earlier step. ValueError naming the step."""
    if not any(step.when == "open" for step in flow):
        raise ValueError("flow: needs an 'open' step (what the burst fires at the opening)")
    known = set(BUILTINS) | {name for step in flow for name in step.save}
    saved: dict[str, str] = {}
    origins: set[tuple[str, str, int | None]] = set()
    for index, step in enumerate(flow):
        where = f"flow.{index} ({step.name})"
        _check_place(flow, index, where)
        url = step_url(step.request.url, base_url)
        origin = _step_origin(url, where)
        if step.when == "open" and origin is not None:
            origins.add(origin)
        templates = [url, step.request.body or "", *step.request.headers.values()]
        for name in (n for text in templates for n in names_in(text, known)):
            if name not in BUILTINS and name not in saved:
                later = next(s.name for s in flow if name in s.save)
                if later == step.name:
                    raise ValueError(
                        f"{where}: {{{name}}} is saved from this step's own answer: its "
                        "request cannot send it"
                    )
                raise ValueError(f"{where}: {{{name}}} is saved only by a later step ({later})")
        for name in step.save:
            _check_save_name(name, saved, where)
            saved[name] = step.name
    if len(origins) > 1:
        raise ValueError(
            "flow: every 'open' step must go to one origin (the burst's connections), not "
            + " and ".join(sorted(f"{s}://{h}:{p}" for s, h, p in origins))
        )


def _check_place(flow: list[Step], index: int, where: str) -> None:
    """A step's name is its own, a ``before`` step comes before every ``open`` one, and only
    the last step's rules make an order."""
    step = flow[index]
    if any(other.name == step.name for other in flow[:index]):
        raise ValueError(f"{where}: the name {step.name} is used twice")
    if step.when == "before" and index > 0 and flow[index - 1].when == "open":
        raise ValueError(f"{where}: a 'before' step cannot follow an 'open' step")
    if step is flow[-1] and "expect" in step.model_fields_set:
        raise ValueError(
            f"{where}: expect: the last step's answer is read by its rules (order_id, "
            "sold_out…), not by expect"
        )
    if step.rules is not None and step is not flow[-1]:
        extra = sorted(step.rules.model_fields_set - EARLY_RULES)
        if extra or step.when == "before":
            raise ValueError(
                f"{where}: rules: only the last step's rules make an order; an earlier "
                f"'open' step may say {', '.join(sorted(EARLY_RULES))}"
            )


def _check_save_name(name: str, saved: dict[str, str], where: str) -> None:
    if not _SAVE_NAME.fullmatch(name):
        raise ValueError(f"{where}: save: {name[:40]!r} is not a name (letters, digits, _)")
    if name in BUILTINS:
        raise ValueError(f"{where}: save: {name} is a built-in placeholder")
    if name in saved:
        raise ValueError(f"{where}: save: {name} is saved by step {saved[name]} already")


def _step_origin(url: str, where: str) -> tuple[str, str, int | None] | None:
    """The origin of a step's URL; None for a URL that is one placeholder (known when sent)."""
    if re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{where}: request.url has a bad host or port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{where}: request.url must be an http:// or https:// URL, or a path starting with /"
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


class _EnvShape(BaseSettings):
    """Only a carrier for the environment source's prefix and nesting rules."""

    model_config = SettingsConfigDict(
        env_prefix="SNIPER_", env_nested_delimiter="__", extra="ignore"
    )


def _env_values() -> dict[str, Any]:
    source = EnvSettingsSource(
        _EnvShape, env_prefix="SNIPER_", env_nested_delimiter="__", case_sensitive=False
    )
    fields = set(TaskConfig.model_fields)
    values: dict[str, Any] = {}
    for name, value in source.env_vars.items():
        key = name.removeprefix("sniper_")
        if not name.startswith("sniper_") or key.split("__")[0] not in fields:
            continue
        node = values
        *parents, leaf = key.split("__")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return values


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


#: The largest task or bench file read: far past any real one, and a bound on what a wrong path
#: (a device, a huge log) can cost.
MAX_YAML_BYTES = 4 * 1024 * 1024


def read_yaml(path: Path) -> dict[str, Any]:
    """The task file as a mapping; anything else (not a regular file, over
    :data:`MAX_YAML_BYTES`) is a ConfigError."""
    try:
        with path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError(f"{path}: not a regular file")
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: over {MAX_YAML_BYTES // (1024 * 1024)} MiB")
        data = yaml.safe_load(raw.decode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{yaml_where(exc)}") from None
    except ValueError as exc:  # a date YAML reads itself and cannot make: 2024-13-01
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of fields")
    return data


def yaml_where(exc: yaml.YAMLError) -> str:
    """Where a YAML error is, as the file's line numbers: where the parser stopped, and where
    what it was reading began (an unclosed bracket's line). An unclosed quote is found only at
    the end of the file: then the line where it opened is the one given."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return ""
    mark = exc.problem_mark
    found, problem = mark.line + 1, exc.problem or "error"
    opened = exc.context_mark.line + 1 if exc.context_mark is not None else found
    if opened == found:
        return f" at line {found}: {problem}"
    context = exc.context or "while reading"
    if mark.buffer is not None and mark.index >= len(mark.buffer.rstrip("\0\n")):
        return f" at line {opened}: {context}, {problem}"
    return f" at line {found}: {problem} ({context} from line {opened})"


def _path_fields(*models: type[BaseModel]) -> frozenset[str]:
    """The fields of ``models`` that name a file."""
    return frozenset(
        name
        for model in models
        for name, info in model.model_fields.items()
        if Path in (info.annotation, *get_args(info.annotation))
    )


_TASK_PATHS = _path_fields(TaskConfig)  # cookie_file, log_file, ca_file
_CHANNEL_PATHS = _path_fields(*get_args(get_args(Channel)[0]))


def _anchored(layer: dict[str, Any], base: Path) -> dict[str, Any]:
    """A task file's fields with each relative path made relative to the file's folder (the
    directory a command runs in is anyone's: cron's, systemd's). ``~`` is the home folder. Only
    the file's own values: a path given by flag or environment keeps the current directory."""
    anchored = {
        key: _under(base, value) if key in _TASK_PATHS else value for key, value in layer.items()
    }
    if isinstance(anchored.get("notify"), list):
        anchored["notify"] = [
            _anchored_channel(c, base) if isinstance(c, dict) else c for c in anchored["notify"]
        ]
    return anchored


def _anchored_channel(channel: dict[str, Any], base: Path) -> dict[str, Any]:
    """A notify channel's paths, and its ``file:PATH`` secrets, anchored like the task's."""

    def anchor(key: str, value: Any) -> Any:
        if key in _CHANNEL_PATHS:
            return _under(base, value)
        if isinstance(value, str) and value.startswith("file:"):
            return "file:" + _under(base, value.removeprefix("file:"))
        return value

    return {key: anchor(key, value) for key, value in channel.items()}


def _under(base: Path, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value  # not a path: validation says what is wrong with it
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def _stack(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge layers, lowest first; a ``cookie_file`` in a higher layer beats a lower ``cookie``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if "cookie_file" in layer and "cookie" not in layer:
            merged.pop("cookie", None)
        merged = _merge(merged, layer)
    return merged


def _validate(data: dict[str, Any], where: str = "") -> TaskConfig:
    try:
        return TaskConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(where + _step_named(describe(exc, TaskConfig), data)) from None


def _step_named(message: str, data: dict[str, Any]) -> str:
    """``flow.1.when: …`` said as ``flow.1 (token).when: …``: the step by its name too."""
    found = re.match(r"flow\.(\d+)\.", message)
    steps = data.get("flow")
    if found is None or not isinstance(steps, list) or int(found.group(1)) >= len(steps):
        return message
    step = steps[int(found.group(1))]
    name = step.get("name") if isinstance(step, dict) else None
    if not isinstance(name, str) or not name:
        return message
    index = found.group(1)
    return f"flow.{index} ({name[:40]})." + message[found.end() :]


def load_task(path: Path | None, flags: dict[str, Any] | None = None) -> TaskConfig:
    """Defaults < YAML file < environment < flags (``None`` flags are not given)."""
    tasks = load_tasks(path, flags)
    if len(tasks) != 1:
        raise ConfigError(f"tasks: this command takes one task, the file has {len(tasks)}")
    return tasks[0]


def load_tasks(path: Path | None, flags: dict[str, Any] | None = None) -> list[TaskConfig]:
    """Every task of a file. The single-task form is one task; with ``tasks:``, the top-level
    fields are every task's defaults and each entry overrides what it names. Layering, lowest
    first: defaults < top level < the entry < environment < flags."""
    base = path.parent if path is not None else Path()
    # The default log and history, too, go beside the task file rather than wherever the
    # command ran.
    defaults = {
        name: str(TaskConfig.model_fields[name].default) for name in ("log_file", "history_file")
    }
    data = _anchored({**defaults, **read_yaml(path)}, base) if path is not None else {}
    env = _env_values()
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    entries = data.pop("tasks", None)
    if entries is None:
        return [_validate(_stack(data, env, given))]
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise ConfigError("tasks: must be a non-empty list of mappings")
    tasks = []
    for index, entry in enumerate(entries):
        named = {"name": f"task-{index + 1}", **_anchored(entry, base)}
        tasks.append(_validate(_stack(data, named, env, given), where=f"tasks.{index}."))
    names = [t.name for t in tasks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"tasks: names must differ, {', '.join(twice)} is used twice")
    return tasks


def check_files(task: TaskConfig) -> None:
    """The files a run appends to can be appended to (created if need be): the log, and a
    repeating task's history; else ConfigError naming the field."""
    files = [("log_file", task.log_file)]
    if task.openings.repeats:
        files.append(("history_file", task.history_file))
    for field, path in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise ConfigError(f"{field}: cannot write {path}: {exc.strerror}") from None


def redact(secret: str) -> str:
    """A secret as it may be shown: its first 4 characters and its length."""
    if len(secret) <= 8:
        return f"***({len(secret)} chars)"
    return f"{secret[:4]}…({len(secret)} chars)"
