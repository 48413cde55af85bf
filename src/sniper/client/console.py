"""What the sniper tells its user, in English or Chinese; a live countdown on a terminal."""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from typing import TextIO

from sniper.client.neterrors import NetFailure
from sniper.client.scrub import Secrets, printable
from sniper.client.timesync import Estimate
from sniper.humanize import duration

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "clock": "clock: the server's clock is {offset:+.2f} ms from this one (±{uncertainty:.2f} "
        "ms), round trip (RTT) {rtt:.2f} ms, from {samples} timed requests ({method})",
        "waiting": "opening at {target} on the server's clock; firing in {wait}",
        "countdown": "T-{wait}  offset {offset:+.2f} ms  RTT {rtt:.2f} ms  {state}",
        "still_waiting": "waiting: firing in {wait} (server clock {offset:+.2f} ms from this one)",
        "preheat": "preheating {n} connection(s)",
        "sent": "→ request sent [seq={seq}]",
        "burst": "  seq 1-{n} share request id {request_id}: the store makes one order of them "
        "(201: the order, 200: the same order again)",
        "burst_shared": "  seq 1-{n} share request id {request_id}: a shop that dedupes by it "
        "makes one order of them",
        "answer": "← [seq={seq}]{step} {status} {outcome} in {latency:.1f} ms",
        "ordered": "✓ order placed! order id: {order_id}",
        "existing": "✓ this account already holds an order: {order_id}",
        "sold_out": "✗ sold out: no order placed",
        "window": "✗ retry window over: no order placed",
        "auth": "✗ cookie expired or invalid (HTTP 401/403): log in again and update the cookie",
        "fatal": "✗ unexpected answer, stopping: {detail}",
        "stopped": "✗ stopping: {detail}",
        "interrupted": "✗ interrupted",
        "summary": "summary: {attempts} attempt(s), result: {result}",
        "unreachable": "! {detail}; trying again until preheat ({wait} from now)",
        "reached": "✓ {host} answers again",
        "cookie_hint_store": "  hint: a store cookie looks like session=TOKEN (yours has no "
        "session=); `sniper login URL USER -o FILE` writes one for "
        "cookie_file",
        "session_unknown": "  the store does not know this session (expired or logged out){said}: "
        "log in again with `sniper login URL USER -o FILE`",
        "store_said": "; the store says: {message}",
        "cookie_hint": "  hint: copy the Cookie header of a logged-in request from the browser's "
        'developer tools (README: "Finding the cookie for another shop")',
        "state_waiting": "waiting",
        "and": ", ",
        "remeasure_failed": "! clock re-measure failed, keeping the last estimate: {detail}",
        "duplicate": "! task {name} has the same account and item as {other}: not run",
        "preflight_ok": "pre-flight: {probes} ok",
        "not_probed": "item and login: not probed on the {platform} platform (it has no request "
        "for them); only the clock is measured",
        "notify_failed": "! {detail}",
        "preflight_failed": "✗ pre-flight failed: {detail}",
        "preflight_steps": "pre-flight: steps {steps} ok, saved: {saved}",
        "steps_kept": "! preheat: {detail}: going on with the pre-flight's values",
        "steps_late": "! preheat: the before steps did not finish in time: going on with the "
        "pre-flight's values (raise preheat_ms)",
        "preflight_unreachable": "! pre-flight: cannot reach the platform: {detail}",
        "task_result": "task {name}: {result}, order {order_id}",
        "bad_task": "✗ {detail}",
        "extra_orders": "! {n} orders were placed, not one: {order_ids} (each request of the "
        "burst became an order); cancel those you do not want",
        "no_request_id": "! the request carries no {{request_id}}: each of the {n} requests "
        "of the burst may become an order of its own (set concurrency: 1, or "
        "put {{request_id}} where the shop takes an idempotency key)",
        "next_opening": "next opening {at} (in {wait}){aim}",
        "aim_learned": ", aiming to arrive {offset:+.1f} ms after it (learned from {n} opening(s))",
        "between": "next opening {at} in {wait} · last: {last}",
        "opening_done": "opening {at}: {result}{order}",
        "cookie_wait": "✗ {detail}: waiting for {file} to change (the openings until then are "
        "skipped)",
        "cookie_again": "✗ {detail}: trying again at the next opening (the cookie is in the task, "
        "not in a cookie_file to wait for)",
        "cookie_changed": "✓ {file} changed: going on",
        "schedule_over": "no openings left ({why})",
        "ordered_before": "✓ already ordered at the opening {at} (order {order_id}, in {path}): "
        "repeat_until: ordered, nothing left to do",
        "history_failed": "! history_file: cannot write {path}: {detail}",
        "history_opening": "opening",
        "history_opening_in": "opening (UTC{offset})",
        "history_task": "task",
        "history_result": "result",
        "history_aim": "aim",
        "history_opened": "shop opened",
        "history_sold_out": "sold out",
        "history_arrival": "first arrival",
        "history_lateness": "lateness",
        "history_order_id": "order id",
        "history_summary": "{openings} opening(s), {ordered} ordered",
        "history_skipped": "; {skipped} line(s) skipped (torn, or not a record)",
        "history_empty": "no openings recorded yet in {path}",
        "history_no_task": "no openings of task {task} recorded in {path}",
    },
    "zh": {
        "clock": "时钟:服务器时钟比本机 {offset:+.2f} ms(±{uncertainty:.2f} ms),"
        "往返时间(RTT){rtt:.2f} ms,由 {samples} 次计时请求测得({method})",
        "waiting": "开抢时间 {target}(服务器时钟);{wait}后开抢",
        "countdown": "倒计时 {wait}  时差 {offset:+.2f} ms  往返 {rtt:.2f} ms  {state}",
        "still_waiting": "等待中:{wait}后开抢(服务器时钟比本机 {offset:+.2f} ms)",
        "preheat": "预热 {n} 个连接",
        "sent": "→ 请求已发出 [seq={seq}]",
        "burst": "  seq 1-{n} 使用同一个请求号 {request_id}:商店只为它们创建一个订单"
        "(201:新订单,200:同一订单再次返回)",
        "burst_shared": "  seq 1-{n} 使用同一个请求号 {request_id}:按请求号去重的商家只会为它们"
        "创建一个订单",
        "answer": "← [seq={seq}]{step} {status} {outcome},耗时 {latency:.1f} ms",
        "ordered": "✓ 下单成功!订单号:{order_id}",
        "existing": "✓ 该账号已有订单:{order_id}",
        "sold_out": "✗ 已售罄,未下单",
        "window": "✗ 重试窗口已结束,未下单",
        "auth": "✗ Cookie 已失效或无效(HTTP 401/403):请重新登录并更新 Cookie",
        "fatal": "✗ 意外的响应,停止:{detail}",
        "stopped": "✗ 停止:{detail}",
        "interrupted": "✗ 已中断",
        "summary": "汇总:共 {attempts} 次请求,结果:{result}",
        "unreachable": "! {detail};开抢预热前会继续重试(还有 {wait})",
        "reached": "✓ {host} 已恢复连接",
        "cookie_hint_store": "  提示:商店的 Cookie 形如 session=TOKEN(你的 Cookie 里没有 "
        "session=);`sniper login URL USER -o FILE` 可以生成一个,"
        "供 cookie_file 使用",
        "session_unknown": "  商店不认识这个会话(已过期或已退出登录){said}:"
        "请用 `sniper login URL USER -o FILE` 重新登录",
        "store_said": ";商店的说明:{message}",
        "cookie_hint": "  提示:在浏览器开发者工具中复制已登录请求的 Cookie 请求头"
        "(见 README「找到其他商店的 Cookie」)",
        "state_waiting": "等待中",
        "and": "、",
        "remeasure_failed": "! 重新测量时钟失败,沿用上次结果:{detail}",
        "duplicate": "! 任务 {name} 与 {other} 是同一账号同一商品:不运行",
        "preflight_ok": "预检:{probes} 正常",
        "not_probed": "商品与登录:{platform} 平台不检查(它没有对应的请求);只测量时钟",
        "notify_failed": "! 通知发送失败:{detail}",
        "preflight_failed": "✗ 预检失败:{detail}",
        "preflight_steps": "预检:步骤 {steps} 正常,已保存:{saved}",
        "steps_kept": "! 预热:{detail}:沿用预检时的值继续",
        "steps_late": "! 预热:before 步骤未能及时完成:沿用预检时的值继续(可调大 preheat_ms)",
        "preflight_unreachable": "! 预检:无法连接平台:{detail}",
        "task_result": "任务 {name}:{result},订单 {order_id}",
        "bad_task": "✗ 任务有误:{detail}",
        "extra_orders": "! 共下了 {n} 单,而不是一单:{order_ids}(同一批的每个请求都成了一单);"
        "请取消不需要的订单",
        "no_request_id": "! 请求中没有 {{request_id}}:同一批的 {n} 个请求可能各成一单"
        "(设 concurrency: 1,或把 {{request_id}} 放在商家接受幂等键的位置)",
        "next_opening": "下一场 {at}({wait}后){aim}",
        "aim_learned": ",计划在其后 {offset:+.1f} ms 到达(从 {n} 场中学到)",
        "between": "下一场 {at},还有 {wait} · 上一场:{last}",
        "opening_done": "{at} 这一场:{result}{order}",
        "cookie_wait": "✗ {detail}:等待 {file} 更新(在此之前的场次跳过)",
        "cookie_again": "✗ {detail}:下一场再试(Cookie 写在任务里,没有可等待的 cookie_file)",
        "cookie_changed": "✓ {file} 已更新:继续",
        "schedule_over": "没有后续场次了({why})",
        "ordered_before": "✓ {at} 这一场已下单(订单 {order_id},见 {path}):"
        "repeat_until: ordered,无需再抢",
        "history_failed": "! history_file:无法写入 {path}:{detail}",
        "history_opening": "开抢时间",
        "history_opening_in": "开抢时间(UTC{offset})",
        "history_task": "任务",
        "history_result": "结果",
        "history_aim": "瞄准",
        "history_opened": "商家实际开抢",
        "history_sold_out": "售罄",
        "history_arrival": "首个请求到达",
        "history_lateness": "迟到",
        "history_order_id": "订单号",
        "history_summary": "共 {openings} 次开抢,{ordered} 次下单成功",
        "history_skipped": ";跳过 {skipped} 行(写了一半,或不是记录)",
        "history_empty": "{path} 中还没有开抢记录",
        "history_no_task": "{path} 中没有任务 {task} 的开抢记录",
    },
}


#: Words inside the lines: outcomes, results, clock methods, probe labels. Unknown words (a
#: plugin's probe label) are shown as they are.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "intersection": "the offset all of them allow",
        "date-header": "the server's Date header, whose second may be cached: the ± includes "
        "up to {lag_s:.1f} s of that",
        "lowest-rtt": "the fastest one",
        "not_started": "not started",
        "rate_limited": "rate limited",
        "auth_failed": "auth failed",
        "sold_out": "sold out",
        "limit_reached": "limit reached",
        "not_ordered": "not ordered",
        "outcome_unknown": "outcome unknown",
        "bad_task": "bad task",
        "next": "ok, next step sent",
    },
    "zh": {
        "intersection": "取它们共同允许的时差",
        "date-header": "依据服务器的 Date 响应头,其秒数可能是缓存的:"
        "± 中含最多 {lag_s:.1f} 秒的缓存",
        "lowest-rtt": "取往返最快的一次",
        "ordered": "下单成功",
        "not_started": "未开始",
        "rate_limited": "被限流",
        "retry": "重试",
        "outcome_unknown": "结果未知",
        "auth_failed": "认证失败",
        "sold_out": "已售罄",
        "limit_reached": "已达限购",
        "fatal": "意外错误",
        "cancelled": "已取消",
        "the schedule is over": "排期已结束",
        "every day in dates is past": "dates 中的日期都已过去",
        "not_ordered": "未下单",
        "interrupted": "已中断",
        "login": "登录",
        "item": "商品",
        "bad_task": "任务有误",
        "next": "成功,已发下一步",
    },
}


def message(lang: str, key: str, **values: object) -> str:
    """A message in ``lang`` (English for a language not known), ``values`` put in as they
    are."""
    return MESSAGES[lang if lang in MESSAGES else "en"][key].format(**values)


def word(lang: str, name: str) -> str:
    """An outcome, result, method or label in ``lang``; a word not known as it is."""
    return WORDS.get(lang, WORDS["en"]).get(name, name)


@dataclass
class _LiveLine:
    """Whether a countdown line is drawn (and unfinished) on a stream."""

    drawn: bool = False


#: One per stream, shared by every Console writing to it: whichever prints a line clears the
#: countdown another task drew.
_LIVE_LINES: weakref.WeakKeyDictionary[TextIO, _LiveLine] = weakref.WeakKeyDictionary()


def _live_line(stream: TextIO) -> _LiveLine:
    return _LIVE_LINES.setdefault(stream, _LiveLine())


#: Without a terminal, a line during the wait this often (seconds), so that a log shows life.
QUIET_LINE_EVERY_S = 300.0


class Console:
    """Lines for people. ``countdown`` redraws one line on a terminal; elsewhere it prints a line
    every :data:`QUIET_LINE_EVERY_S` of the wait."""

    def __init__(self, lang: str = "en", stream: TextIO | None = None, prefix: str = "") -> None:
        self.lang = lang if lang in MESSAGES else "en"
        self.prefix = prefix  # the task's name, when several run at once
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._line = _live_line(self.stream)
        self._quiet_line_at: float | None = None
        #: Never printed; set by whoever knows the cookie.
        self.secrets = Secrets()

    def text(self, key: str, **values: object) -> str:
        """A message in the console's language; text values (which may come from a server)
        lose their control characters and secrets."""
        safe = {
            k: self.secrets.hide(printable(v)) if isinstance(v, str) else v
            for k, v in values.items()
        }
        return message(self.lang, key, **safe)

    def detail(self, exc: BaseException) -> str:
        """An error's line in the console's language: a connect-time failure (itself, or what
        an error that repeats its line was raised from) is translated; others are as they are."""
        text = str(exc)
        cause: BaseException | None = exc
        while cause is not None:
            net = getattr(cause, "failure", None)
            if isinstance(net, NetFailure) and net.text() == text:
                return net.text(self.lang)
            cause = cause.__cause__
        return text

    def word(self, name: str) -> str:
        """An outcome, result, method or label in the console's language."""
        return word(self.lang, name)

    def duration(self, seconds: float, units_shown: int = 2) -> str:
        """``seconds`` in words (``1 h 28 min``; ``1 h 28 min 5 s`` with three units)."""
        return duration(seconds, self.lang, units_shown)

    def say(self, key: str, **values: object) -> None:
        """Print one line."""
        self._clear()
        print(self.prefix + self.text(key, **values), file=self.stream, flush=True)

    def cookie_hint(self, platform: str, cookie: str, message: str = "") -> None:
        """After a refused login: what a good cookie looks like, and where to get one; for a
        store cookie that has a session, that the store does not know it (with the store's own
        ``message``, if any)."""
        if platform != "store":
            self.say("cookie_hint")
        elif "session=" in cookie:
            said = self.text("store_said", message=message) if message else ""
            self.say("session_unknown", said=said)
        else:
            self.say("cookie_hint_store")

    def clock(self, est: Estimate, offset: float) -> None:
        """The clock line: offset, uncertainty, RTT and how it was found."""
        self.say(
            "clock",
            offset=offset,
            uncertainty=est.uncertainty,
            rtt=est.rtt,
            samples=est.samples,
            method=self.clock_method(est),
        )

    def clock_method(self, est: Estimate) -> str:
        """How the offset was found; from a ``Date`` header (a report that may lag), that."""
        if est.lag > 0:
            return self.word("date-header").format(lag_s=est.lag / 1000)
        return self.word(est.method)

    def countdown(self, *, seconds: float, offset: float, rtt: float) -> None:
        """Redraw the live line on a terminal; elsewhere, a plain line every few minutes."""
        wait = self.duration(seconds)
        if self.live:  # to the second, so that the line is seen to move
            print(
                "\r\x1b[2K"
                + self.prefix
                + self.text(
                    "countdown",
                    wait=duration(seconds, self.lang, 3),
                    offset=offset,
                    rtt=rtt,
                    state=self.text("state_waiting"),
                ),
                end="",
                file=self.stream,
                flush=True,
            )
            self._line.drawn = True
        elif self._quiet_line_at is None:
            self._quiet_line_at = seconds  # the "waiting" line has just said it
        elif self._quiet_line_at - seconds >= QUIET_LINE_EVERY_S:
            self._quiet_line_at = seconds
            self.say("still_waiting", wait=wait, offset=offset)

    def status(self, key: str, **values: object) -> None:
        """Redraw the live line with a message on a terminal; elsewhere nothing (a log gets
        the plain lines said around it)."""
        if self.live:
            line = "\r\x1b[2K" + self.prefix + self.text(key, **values)
            print(line, end="", file=self.stream, flush=True)
            self._line.drawn = True

    def _clear(self) -> None:
        if self._line.drawn:
            print("\r\x1b[2K", end="", file=self.stream)
            self._line.drawn = False
