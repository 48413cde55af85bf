"""What the sniper tells its user, in English or Chinese; a live countdown on a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from sniper.client.scrub import Secrets, printable

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "clock": "clock: server is {offset:+.2f} ms from here (±{uncertainty:.2f} ms), "
                 "RTT {rtt:.2f} ms, {samples} samples ({method})",
        "waiting": "opening at {target} on the server's clock; firing in {seconds:.1f} s",
        "countdown": "T-{seconds:8.3f} s  offset {offset:+.2f} ms  RTT {rtt:.2f} ms  {state}",
        "preheat": "preheating {n} connection(s)",
        "sent": "→ request sent [seq={seq}]",
        "answer": "← [seq={seq}] {status} {outcome} in {latency:.1f} ms",
        "ordered": "✓ order placed! order id: {order_id}",
        "existing": "✓ this account already holds an order: {order_id}",
        "sold_out": "✗ sold out: no order placed",
        "window": "✗ retry window over: no order placed",
        "auth": "✗ cookie expired or invalid (HTTP 401/403): log in again and update the cookie",
        "fatal": "✗ unexpected answer, stopping: {detail}",
        "interrupted": "✗ interrupted",
        "summary": "summary: {attempts} attempt(s), result: {result}",
        "state_waiting": "waiting",
        "remeasure_failed": "! clock re-measure failed, keeping the last estimate: {detail}",
        "duplicate": "! task {name} has the same account and item as {other}: not run",
        "preflight_ok": "pre-flight: {probes} ok",
        "notify_failed": "! {detail}",
        "preflight_failed": "✗ pre-flight failed: {detail}",
        "preflight_unreachable": "! pre-flight: cannot reach the platform: {detail}",
        "task_result": "task {name}: {result}, order {order_id}",
    },
    "zh": {
        "clock": "时钟:服务器比本机 {offset:+.2f} ms(±{uncertainty:.2f} ms),"
                 "往返 {rtt:.2f} ms,{samples} 次采样({method})",
        "waiting": "开抢时间 {target}(服务器时钟);{seconds:.1f} 秒后开抢",
        "countdown": "倒计时 {seconds:8.3f} 秒  时差 {offset:+.2f} ms  往返 {rtt:.2f} ms  {state}",
        "preheat": "预热 {n} 个连接",
        "sent": "→ 请求已发出 [seq={seq}]",
        "answer": "← [seq={seq}] {status} {outcome},耗时 {latency:.1f} ms",
        "ordered": "✓ 下单成功!订单号:{order_id}",
        "existing": "✓ 该账号已有订单:{order_id}",
        "sold_out": "✗ 已售罄,未下单",
        "window": "✗ 重试窗口已结束,未下单",
        "auth": "✗ Cookie 已失效或无效(HTTP 401/403):请重新登录并更新 Cookie",
        "fatal": "✗ 意外的响应,停止:{detail}",
        "interrupted": "✗ 已中断",
        "summary": "汇总:共 {attempts} 次请求,结果:{result}",
        "state_waiting": "等待中",
        "remeasure_failed": "! 重新测量时钟失败,沿用上次结果:{detail}",
        "duplicate": "! 任务 {name} 与 {other} 是同一账号同一商品:不运行",
        "preflight_ok": "预检:{probes} 正常",
        "notify_failed": "! 通知发送失败:{detail}",
        "preflight_failed": "✗ 预检失败:{detail}",
        "preflight_unreachable": "! 预检:无法连接平台:{detail}",
        "task_result": "任务 {name}:{result},订单 {order_id}",
    },
}


class Console:
    """Lines for people. ``countdown`` redraws one line on a terminal and is silent otherwise."""

    def __init__(self, lang: str = "en", stream: TextIO | None = None, prefix: str = "") -> None:
        self.lang = lang if lang in MESSAGES else "en"
        self.prefix = prefix  # the task's name, when several run at once
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._drawn = False
        #: Never printed; set by whoever knows the cookie.
        self.secrets = Secrets()

    def text(self, key: str, **values: object) -> str:
        """A message in the console's language; text values (which may come from a server)
        lose their control characters and secrets."""
        safe = {k: self.secrets.hide(printable(v)) if isinstance(v, str) else v
                for k, v in values.items()}
        return MESSAGES[self.lang][key].format(**safe)

    def say(self, key: str, **values: object) -> None:
        """Print one line."""
        self._clear()
        print(self.prefix + self.text(key, **values), file=self.stream, flush=True)

    def countdown(self, **values: object) -> None:
        """Redraw the live line (terminals only)."""
        if self.live:
            print("\r\x1b[2K" + self.prefix + self.text("countdown", **values), end="",
                  file=self.stream, flush=True)
            self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            print("\r\x1b[2K", end="", file=self.stream)
            self._drawn = False
