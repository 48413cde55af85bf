"""How precisely does the sniper hit an opening on a server whose clock differs from ours?

    python benchmarks/fire_precision.py [--snipes 20] [--skew-ms 1500] [--concurrency 3]
                                        [--flow | --flow-only]

Two servers (three with ``--flow``), all with their clock shifted by ``--skew-ms``:

* the real store (``sniper serve --clock-skew-ms``): each snipe buys the only unit of an item
  opening on a whole second of the store's clock; the figure is the order's ``created_ms`` minus
  the opening (the store's clock, whole milliseconds);
* ``benchmarks/recorder.py``: notes when each request's first byte reached its socket (the
  kernel's receive timestamp, to the microsecond);
  the figures are each burst's arrival minus the opening, and its spread (last − first arrival);
  with ``--tasks N`` also per task: its first request's arrival and its own burst's spread;
* with ``--flow``, the test shop (``tests/client/checkout_shop.py``, its own process), whose
  checkout is three steps: cart (before the opening), seckill token (at the opening), submit. It
  notes each request's kernel receive time and when it wrote each answer; the figures are the first
  token request's arrival minus the opening, and on each connection the gap from the shop writing
  the token's answer to the submit's arrival (what the sniper takes to go on with the next step);
  beside it, the same gap for a plain blocking client (this machine's floor). ``--flow-only``
  runs just this part.

Beside each, the naive way: sleep until the target on the local clock, then send with a plain HTTP
client (httpx; for the burst, ``concurrency`` requests with ``asyncio.gather``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h11
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.client.checkout_shop import checkout_flow

from procs import free_port, running
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import Sniper
from sniper.client.many import run_many

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADMIN = {"Authorization": "Bearer precision-admin-token"}


def opening_after(server_now_ms: float, lead_s: float) -> int:
    """The next whole second of the server's clock at least ``lead_s`` away."""
    return int((server_now_ms / 1000 + lead_s) // 1 + 1) * 1000


def iso(ms: int) -> str:
    """Epoch ms as RFC 3339 UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


async def snipe(
    url: str, cookie: str, sku: str, opening_ms: int, *, args: argparse.Namespace, tmp: Path
) -> None:
    """One run of the sniper, in this process, quiet."""
    task = TaskConfig.model_validate(
        {
            "base_url": url,
            "cookie": cookie,
            "sku_id": sku,
            "target_time": iso(opening_ms),
            "concurrency": args.concurrency,
            "log_file": tmp / "precision.log",
        }
    )
    await Sniper(task, Console("en", io.StringIO())).run()


async def snipe_many(
    url: str, cookies: list[str], skus: list[str], opening_ms: int, tmp: Path
) -> None:
    """Several tasks of one file at once (shared clock estimate and bucket), quiet."""
    tasks = [
        (
            TaskConfig.model_validate(
                {
                    "name": f"t{i}",
                    "base_url": url,
                    "cookie": cookie,
                    "sku_id": sku,
                    "target_time": iso(opening_ms),
                    "log_file": tmp / f"precision-{i}.log",
                }
            ),
            cookie,
        )
        for i, (cookie, sku) in enumerate(zip(cookies, skus, strict=True))
    ]
    await run_many(tasks, "en", stream=io.StringIO())


async def naive(url: str, cookie: str, sku: str, opening_ms: int, concurrency: int) -> None:
    """Sleep until the local clock says it is time, then send with httpx."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await asyncio.sleep(max(0.0, opening_ms / 1000 - time.time()))
        await asyncio.gather(
            *(
                client.post("/api/orders", json={"sku_id": sku}, headers={"Cookie": cookie})
                for _ in range(concurrency)
            )
        )


async def against_store(args: argparse.Namespace, tmp: Path) -> dict[str, list[float]]:
    """created_ms − opening on the real store, sniper and naive."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "sniper",
        "serve",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{tmp / 'store.db'}",
        "--admin-token",
        ADMIN["Authorization"][7:],
        "--clock-skew-ms",
        str(int(args.skew_ms)),
        "--log-level",
        "warning",
    ]
    out: dict[str, list[float]] = {"sniper": [], "naive": []}
    per = args.tasks  # tasks (accounts × items) at each opening
    with running(cmd, port):
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=30) as admin:
            users = (await admin.post("/admin/users", json={"count": 2 * args.snipes * per})).json()
            cookies = [f"session={u['session']}" for u in users["users"]]
            for k in range(2 * args.snipes):
                who = "sniper" if k % 2 == 0 else "naive"
                now = (await admin.get("/api/time")).json()["now_ms"]
                opening = opening_after(now, args.lead_s)
                skus = [f"p{k}-{j}" for j in range(per)]
                for sku in skus:
                    await admin.put(
                        f"/admin/items/{sku}",
                        json={
                            "name": sku,
                            "price_cents": 1,
                            "stock": 1,
                            "sale_start": iso(opening),
                        },
                    )
                mine = cookies[k * per : (k + 1) * per]
                if who == "sniper" and per == 1:
                    await snipe(url, mine[0], skus[0], opening, args=args, tmp=tmp)
                elif who == "sniper":
                    await snipe_many(url, mine, skus, opening, tmp)
                else:
                    await asyncio.gather(
                        *(naive(url, c, s, opening, 1) for c, s in zip(mine, skus, strict=True))
                    )
                for sku in skus:
                    orders = (await admin.get(f"/admin/orders?sku_id={sku}")).json()["orders"]
                    if orders:
                        out[who].append(orders[0]["created_ms"] - opening)
    return out


async def against_recorder(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Arrival − opening and burst spread, sniper and naive: of every request, and per task
    (its first request's arrival, its own burst's spread)."""
    port = free_port()
    cmd = [sys.executable, str(HERE / "recorder.py"), str(port), "--skew-ms", str(args.skew_ms)]
    out: dict[str, dict[str, list[float]]] = {
        w: {"arrival": [], "spread": [], "first": [], "task_spread": []}
        for w in ("sniper", "naive")
    }
    cookies = [f"session=x{j}" for j in range(args.tasks)]
    skus = [f"x{j}" for j in range(args.tasks)]
    with running(cmd, port), tempfile.TemporaryDirectory() as tmp:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
            for k in range(2 * args.snipes):
                who = "sniper" if k % 2 == 0 else "naive"
                now = (await probe.get("/api/time")).json()["now_ms"]
                opening = opening_after(now, args.lead_s)
                if who == "sniper" and args.tasks == 1:
                    await snipe(url, cookies[0], skus[0], opening, args=args, tmp=Path(tmp))
                elif who == "sniper":
                    await snipe_many(url, cookies, skus, opening, Path(tmp))
                else:
                    await asyncio.gather(
                        *(
                            naive(url, c, s, opening, args.concurrency)
                            for c, s in zip(cookies, skus, strict=True)
                        )
                    )
                by_task: dict[str, list[float]] = {}
                for _, path, ms, cookie in (await probe.get("/arrivals")).json():
                    if path == "/api/orders" and len(by_task.get(cookie, [])) < args.concurrency:
                        by_task.setdefault(cookie, []).append(float(ms))
                arrivals = [a for burst in by_task.values() for a in burst]
                out[who]["arrival"] += [a - opening for a in arrivals]
                out[who]["spread"].append(max(arrivals) - min(arrivals))
                out[who]["first"] += [min(b) - opening for b in by_task.values()]
                out[who]["task_spread"] += [max(b) - min(b) for b in by_task.values()]
    return out


async def snipe_flow(url: str, sku: str, opening_ms: int, *, concurrency: int, tmp: Path) -> None:
    """One run of the three-step flow, in this process, quiet; the shop's clock read from its
    own time endpoint (seconds)."""
    task = TaskConfig.model_validate(
        {
            "platform": "http",
            "base_url": url,
            "cookie": "session=precision-flow",
            "sku_id": sku,
            "target_time": iso(opening_ms),
            "clock": {"url": f"{url}/api/serverTime", "json": "data.now", "unit": "s"},
            "concurrency": concurrency,
            "log_file": tmp / "precision-flow.log",
            "flow": checkout_flow(url),
        }
    )
    await Sniper(task, Console("en", io.StringIO())).run()


async def against_shop(args: argparse.Namespace, tmp: Path) -> dict[str, list[float]]:
    """The three-step flow on the test shop: first token arrival − opening, and on each connection
    the token answer's write → the submit's arrival (both on the shop's side)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tests.client.checkout_shop",
        "--port",
        str(port),
        "--skew-ms",
        str(args.skew_ms),
    ]
    out: dict[str, list[float]] = {
        "first": [],
        "gap": [],
        "gap_first": [],
        "plain_gap": [],
        "own_gap": [],
        "ordered": [],
    }
    with running(cmd, port, cwd=ROOT):
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
            for k in range(args.snipes):
                now = (await probe.get("/api/serverTime")).json()["data"]["now"] * 1000
                opening = round(now + args.flow_lead_s * 1000)
                sku = f"flow{k}"
                sale = {"sku": sku, "opening_ms": opening, "stock": 1}
                (await probe.post("/_sale", json=sale)).raise_for_status()
                await snipe_flow(url, sku, opening, concurrency=args.concurrency, tmp=tmp)
                log = (await probe.get("/_log?clear=1")).json()
                tokens = [a for a in log["arrivals"] if a["path"] == "/api/seckill/token"]
                if tokens:
                    out["first"].append(min(a["at_ms"] for a in tokens) - opening)
                gaps = submit_gaps(log["arrivals"])
                out["gap"] += gaps
                out["gap_first"] += gaps[:1]
                out["ordered"].append(float(len(log["orders"])))
            out["own_gap"] = own_gaps(tmp / "precision-flow.log")
            sale = {"sku": "plain", "opening_ms": 0, "stock": 1_000_000}
            (await probe.post("/_sale", json=sale)).raise_for_status()
            for k in range(args.snipes):
                await asyncio.to_thread(plain_checkout, port, f"session=plain{k}")
            out["plain_gap"] = submit_gaps((await probe.get("/_log?clear=1")).json()["arrivals"])
    return out


def submit_gaps(arrivals: list[dict[str, Any]]) -> list[float]:
    """For each submit, in order of arrival: its arrival − the write of the token answer before
    it on its connection (both the shop's times)."""
    gaps = []
    for submit in sorted(arrivals, key=lambda a: float(a["at_ms"])):
        if submit["path"] != "/api/order/submit":
            continue
        answered = [
            float(t["answered_ms"])
            for t in arrivals
            if t["path"] == "/api/seckill/token"
            and t["peer_port"] == submit["peer_port"]
            and t["answered_ms"] <= submit["at_ms"]
        ]
        if answered:
            gaps.append(float(submit["at_ms"]) - max(answered))
    return gaps


def own_gaps(log: Path) -> list[float]:
    """From the sniper's own run log: on each connection, its token answer read (sent +
    latency) to its submit written, in ms (what the sniper itself takes to go on)."""
    gaps: list[float] = []
    answered: dict[int, float] = {}
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "summary":
            answered = {}
        if record.get("event") != "attempt":
            continue
        if record.get("step") == "token" and record["outcome"] == "next":
            answered[record["seq"]] = record["sent_server_ms"] + record["latency_ms"]
        elif record.get("step") == "submit" and record["seq"] in answered:
            gaps.append(record["sent_server_ms"] - answered.pop(record["seq"]))
    return gaps


def plain_checkout(port: int, cookie: str) -> None:
    """The floor of the token-to-submit figure on this machine: cart, token and submit on one
    blocking socket, each request written the moment the previous answer is read (h11, no
    event loop, nothing else to do)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h11.Connection(h11.CLIENT)

        def exchange(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Any:
            head = [("Host", "127.0.0.1"), ("Content-Length", str(len(body))), *headers]
            sock.sendall(
                conn.send(h11.Request(method=method, target=target, headers=head))
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            data, cookies = b"", []
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Response):
                    cookies = [
                        v.decode().split(";")[0] for k, v in event.headers if k == b"set-cookie"
                    ]
                elif isinstance(event, h11.Data):
                    data += event.data
                elif isinstance(event, h11.EndOfMessage):
                    conn.start_next_cycle()
                    return json.loads(data)["data"], cookies

        cart, cookies = exchange("GET", "/api/cart?sku=plain", [("Cookie", cookie)], b"")
        jar = "; ".join([cookie, *cookies])
        answer, _ = exchange("POST", "/api/seckill/token", [("Cookie", jar)], b'{"sku":"plain"}')
        token = answer["token"]
        body = {"cartId": cart["cartId"], "price": cart["items"][0]["price"], "token": token}
        headers = [("Cookie", jar), ("X-Token", token), ("Content-Type", "application/json")]
        exchange("POST", "/api/order/submit", headers, json.dumps(body).encode())


def stats(values: list[float]) -> str:
    """p50 / p99 / max in ms."""
    if not values:
        return f"{'-':>9}{'-':>9}{'-':>9}"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):9.3f}{p99:9.3f}{ordered[-1]:9.3f}"


def print_today(
    args: argparse.Namespace,
    store: dict[str, list[float]],
    recorder: dict[str, dict[str, list[float]]],
) -> None:
    """The store's and the recorder's figures."""
    print(
        f"{'':8}{'created_ms - opening (store)':>27}   {'arrival - opening (recorder)':>27}"
        f"   {'burst arrival spread':>27}"
    )
    for who in ("sniper", "naive"):
        print(
            f"{who:8}{stats(store[who])}   {stats(recorder[who]['arrival'])}   "
            f"{stats(recorder[who]['spread'])}"
        )
    if args.tasks > 1:
        print(f"{'per task':8}{'':27}   {'first arrival - opening':>27}   {'own burst spread':>27}")
        for who in ("sniper", "naive"):
            print(
                f"{who:8}{'':27}   {stats(recorder[who]['first'])}   "
                f"{stats(recorder[who]['task_spread'])}"
            )
    wanted = args.snipes * args.tasks
    missing = {w: wanted - len(store[w]) for w in store if len(store[w]) < wanted}
    if missing:
        print(
            f"(no order at all: {missing}; a naive client early on a server behind us is "
            "refused 425)"
        )


def print_flow(args: argparse.Namespace, shop: dict[str, list[float]]) -> None:
    """The test shop's figures."""
    print(
        f"flow on the test shop (cart before; token, then submit on each connection): "
        f"{args.snipes} snipes, {int(sum(shop['ordered']))} orders"
    )
    print(
        f"{'':8}{'first open arrival - opening':>27}   {'token answer -> submit':>27}"
        f"   {'the same, first submit':>27}"
    )
    print(f"{'sniper':8}{stats(shop['first'])}   {stats(shop['gap'])}   {stats(shop['gap_first'])}")
    print(f"{'plain':8}{'':27}   {stats(shop['plain_gap'])}")
    print(f"{'':8}{'':27}   {'answer read -> submit written':>27}   (the sniper's own log)")
    print(f"{'sniper':8}{'':27}   {stats(shop['own_gap'])}")


async def main() -> None:
    """Run the parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snipes", type=int, default=20)
    parser.add_argument("--skew-ms", type=float, default=1500.0)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--lead-s", type=float, default=1.5)
    parser.add_argument(
        "--tasks",
        type=int,
        default=1,
        help="tasks (accounts x items) at each opening, run as one task file",
    )
    parser.add_argument(
        "--flow",
        action="store_true",
        help="also the three-step checkout (cart, token, submit) on the test shop",
    )
    parser.add_argument(
        "--flow-only", action="store_true", help="only the checkout on the test shop (~30 s)"
    )
    parser.add_argument(
        "--flow-lead-s",
        type=float,
        default=1.0,
        help="with --flow: each opening this far ahead of the shop's clock",
    )
    args = parser.parse_args()
    print(
        f"fire_precision: {args.snipes} snipes each, {args.tasks} task(s) per opening, "
        f"server clock {args.skew_ms:+g} ms, burst of {args.concurrency}; "
        "all figures ms, p50 / p99 / max"
    )
    with tempfile.TemporaryDirectory(prefix="sniper-precision-") as tmp:
        if not args.flow_only:
            store = await against_store(args, Path(tmp))
            recorder = await against_recorder(args)
            print_today(args, store, recorder)
        if args.flow or args.flow_only:
            print_flow(args, await against_shop(args, Path(tmp)))


if __name__ == "__main__":
    asyncio.run(main())
