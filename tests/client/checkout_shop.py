"""A shop on loopback whose checkout is three requests, like a real seckill: cart → token → submit.

* ``GET /api/serverTime``: ``{"code":0,"data":{"now": <epoch seconds, whole ms>}}`` on the shop's
  clock (this machine's, shifted by ``skew_ms``); every answer also carries a ``Date`` of it.
* ``GET /api/cart?sku=ID`` (login cookie ``session=…``, else 401): a new cart of the item, its id
  and price, and a CSRF cookie (``Set-Cookie: csrf=…; Path=/; HttpOnly``).
* ``POST /api/seckill/token`` ``{"sku":"ID"}``: ``{"code":4002,"msg":"not started"}`` before the
  opening (plus ``not_started_extra_ms``), then a fresh one-time token.
* ``POST /api/order/submit``: needs ``X-Token`` equal to the body's ``token`` (one the shop issued
  to this login, used once), a ``cartId`` it issued to this login, ``price`` a JSON number equal to
  the cart's, the CSRF cookie it set, the login; answers an order id, ``5001 售罄`` (sold out),
  ``5002 限购`` (one order per login and item) or 400 with the reason.

Every request is recorded (:class:`Arrival`): when its first byte reached the socket (the kernel's
receive timestamp, so the shop's own scheduling does not move it), when its head was parsed and when
its answer was written, all in ms on the shop's clock, with the peer port naming the connection.
``GET /_log`` (``?clear=1`` empties it) answers the arrivals and orders, ``POST /_sale`` opens a
sale; in process, :meth:`CheckoutShop.sale`, :attr:`CheckoutShop.arrivals` and
:attr:`CheckoutShop.orders` do the same. One thread per connection, so the shop needs no event loop
and keeps its own time even in a test's process.

Run alone: ``python -m tests.client.checkout_shop --port 0 [--skew-ms MS] [--session S]...``; it
prints its port on the first line and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import secrets
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11

_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_NOT_STARTED = 4002
_NO_ITEM = 4004
_SOLD_OUT = 5001
_LIMIT = 5002


@dataclass(frozen=True)
class Arrival:
    """One request as the shop saw it; times are ms on the shop's clock."""

    method: str
    path: str  # without the query
    target: str  # with it
    peer_port: int  # names the connection
    at_ms: float  # its first byte reached the socket (kernel receive timestamp)
    head_ms: float  # its head was parsed
    answered_ms: float  # just before its answer was written
    status: int
    code: int | None  # the answer's "code"
    headers: dict[str, str]  # names lowercase; several of one name joined by ", "
    body: str


@dataclass(frozen=True)
class Order:
    """An order the shop took."""

    order_id: str
    sku: str
    account: str
    cart_id: str
    token: str
    csrf: str
    rid: str
    at_ms: float
    peer_port: int


@dataclass
class Sale:
    """One item's sale: opens at ``opening_ms`` (shop clock); tokens from ``not_started_extra_ms``
    later."""

    sku: str
    opening_ms: float
    stock: int = 1
    not_started_extra_ms: float = 0.0
    price: float = 12.5


@dataclass(frozen=True)
class _Cart:
    cart_id: str
    account: str
    sku: str
    price: float


@dataclass
class _Account:
    carts: dict[str, _Cart] = field(default_factory=dict)
    csrfs: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)  # unused token → its item


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    peer_port: int
    at_ms: float


_Answer = tuple[int, dict[str, Any], tuple[tuple[str, str], ...]]


def _refuse(status: int, code: int, msg: str) -> _Answer:
    return status, {"code": code, "msg": msg}, ()


def _cookies(header: str) -> dict[str, str]:
    """A ``Cookie`` header's pairs (the first of a repeated name wins, as servers read it)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name and name not in out:
            out[name] = value
    return out


class CheckoutShop:
    """``with CheckoutShop(skew_ms=1234) as shop``: ``shop.url``, ``shop.sale(...)``,
    ``shop.arrivals``, ``shop.orders``. ``sessions`` limits which ``session=`` logins are alive
    (any non-empty one when None)."""

    def __init__(
        self, *, skew_ms: float = 0.0, sessions: frozenset[str] | None = None, port: int = 0
    ) -> None:
        self.skew_ms, self.sessions = skew_ms, sessions
        self._listener = socket.create_server(("127.0.0.1", port), backlog=128)
        self._listener.settimeout(0.1)  # the accept loop looks at the stop flag this often
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sales: dict[str, Sale] = {}
        self._accounts: dict[str, _Account] = {}
        self._arrivals: list[Arrival] = []
        self._orders: list[Order] = []
        self._socks: set[socket.socket] = set()
        self._acceptor = threading.Thread(target=self._accept_loop, name="shop-accept", daemon=True)
        self._threads: list[threading.Thread] = []

    # -- in process ---------------------------------------------------------------------------

    def now_ms(self) -> float:
        """The shop's clock."""
        return time.time() * 1000 + self.skew_ms

    def sale(
        self,
        sku: str,
        opening_ms: float,
        *,
        stock: int = 1,
        not_started_extra_ms: float = 0.0,
        price: float = 12.5,
    ) -> Sale:
        """Open (or replace) the sale of ``sku``."""
        sale = Sale(sku, opening_ms, stock, not_started_extra_ms, price)
        with self._lock:
            self._sales[sku] = sale
        return sale

    @property
    def arrivals(self) -> list[Arrival]:
        """Every request but the shop's own ``/_…`` ones, by arrival."""
        with self._lock:
            return sorted(self._arrivals, key=lambda a: a.at_ms)

    @property
    def orders(self) -> list[Order]:
        """Every order taken, in order."""
        with self._lock:
            return list(self._orders)

    def issued(self, what: str) -> set[str]:
        """Every ``cart`` id or ``csrf`` value the shop has handed out."""
        with self._lock:
            accounts = list(self._accounts.values())
        if what == "cart":
            return {c for a in accounts for c in a.carts}
        return {c for a in accounts for c in a.csrfs}

    def log(self, *, clear: bool = False) -> dict[str, Any]:
        """Arrivals and orders as JSON-ready data (what ``GET /_log`` answers)."""
        with self._lock:
            out = {
                "arrivals": [asdict(a) for a in sorted(self._arrivals, key=lambda a: a.at_ms)],
                "orders": [asdict(o) for o in self._orders],
            }
            if clear:
                self._arrivals.clear()
                self._orders.clear()
        return out

    def start(self) -> CheckoutShop:
        """Start accepting (in a thread of its own)."""
        self._acceptor.start()
        return self

    def close(self) -> None:
        """Stop accepting, hang up every connection, wait for the threads."""
        self._stop.set()
        if self._acceptor.is_alive():
            self._acceptor.join(5)
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):  # the client was gone already
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def __enter__(self) -> CheckoutShop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, _TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock, peer[1]), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _serve(self, sock: socket.socket, peer_port: int) -> None:
        try:
            self._converse(sock, peer_port)
        except (OSError, h11.ProtocolError):
            pass  # a client that hung up or spoke nonsense: its connection ends here
        finally:
            with self._lock:
                self._socks.discard(sock)
            sock.close()

    def _converse(self, sock: socket.socket, peer_port: int) -> None:
        conn = h11.Connection(h11.SERVER)
        first: float | None = None  # kernel time of this request's first byte
        last = 0.0  # of the latest read (a request already buffered arrived with it)
        head: h11.Request | None = None
        head_ms = 0.0
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(16))
                last = self._kernel_ms(ancdata)
                if first is None:
                    first = last
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                head, head_ms, body = event, self.now_ms(), b""
                first = last if first is None else first
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                out, arrival = self._respond(conn, head, body, peer_port, first or last, head_ms)
                # Taken just before the write (the client may run before sendall returns), and
                # recorded before it, so that whoever has the answer finds its record.
                answered_ms = self.now_ms()
                if arrival is not None:
                    with self._lock:
                        self._arrivals.append(replace(arrival, answered_ms=answered_ms))
                sock.sendall(out)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
                first = None
            else:  # the client closed
                return

    def _kernel_ms(self, ancdata: list[tuple[int, int, bytes]]) -> float:
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == _TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                return float(sec * 1000 + nsec / 1e6 + self.skew_ms)
        return self.now_ms()

    def _respond(
        self,
        conn: h11.Connection,
        head: h11.Request,
        body: bytes,
        peer_port: int,
        at_ms: float,
        head_ms: float,
    ) -> tuple[bytes, Arrival | None]:
        """The answer's bytes, and the request's record (its ``answered_ms`` still to come)."""
        headers: dict[str, str] = {}
        for name, value in head.headers:
            key = name.decode().lower()
            text = value.decode("latin-1")
            joint = "; " if key == "cookie" else ", "
            headers[key] = f"{headers[key]}{joint}{text}" if key in headers else text
        parts = urlsplit(head.target.decode("latin-1"))
        request = _Request(
            head.method.decode(),
            parts.path,
            parse_qs(parts.query),
            headers,
            _cookies(headers.get("cookie", "")),
            body,
            peer_port,
            at_ms,
        )
        status, payload, extra = self._route(request)
        data = b"" if request.method == "HEAD" else json.dumps(payload).encode()
        out = conn.send(
            h11.Response(
                status_code=status,
                headers=[
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(data))),
                    ("Date", formatdate(self.now_ms() / 1000, usegmt=True)),
                    *extra,
                ],
            )
        )
        out += conn.send(h11.Data(data=data)) + conn.send(h11.EndOfMessage())
        if request.path.startswith("/_"):
            return out, None
        code = payload.get("code")
        arrival = Arrival(
            request.method,
            request.path,
            head.target.decode("latin-1"),
            peer_port,
            at_ms,
            head_ms,
            0.0,
            status,
            code if isinstance(code, int) else None,
            headers,
            body.decode("utf-8", errors="replace"),
        )
        return out, arrival

    # -- the checkout -------------------------------------------------------------------------

    def _route(self, request: _Request) -> _Answer:
        route = (request.method, request.path)
        if route in (("GET", "/api/serverTime"), ("HEAD", "/api/serverTime")):
            # Whole ms, cut as a server's millisecond clock cuts them, then in seconds.
            return 200, {"code": 0, "data": {"now": math.floor(self.now_ms()) / 1000}}, ()
        if route == ("GET", "/_log"):
            return 200, self.log(clear=request.query.get("clear") == ["1"]), ()
        if route == ("POST", "/_sale"):
            return self._open_sale(request)
        step = {
            ("GET", "/api/cart"): self._cart,
            ("POST", "/api/seckill/token"): self._token,
            ("POST", "/api/order/submit"): self._submit,
        }.get(route)
        if step is None:
            return _refuse(404, 404, "not found")
        account = self._login(request)
        if account is None:
            return _refuse(401, 401, "login required")
        return step(request, account)

    def _open_sale(self, request: _Request) -> _Answer:
        try:
            sale = self.sale(**json.loads(request.body))
        except (ValueError, TypeError) as exc:
            return _refuse(400, 400, f"bad sale: {exc}")
        return 200, {"code": 0, "data": asdict(sale)}, ()

    def _login(self, request: _Request) -> str | None:
        session = request.cookies.get("session", "")
        if not session or (self.sessions is not None and session not in self.sessions):
            return None
        return session

    def _cart(self, request: _Request, account: str) -> _Answer:
        sku = (request.query.get("sku") or [""])[0]
        with self._lock:
            sale = self._sales.get(sku)
            if sale is None:
                return _refuse(200, _NO_ITEM, "no such item")
            cart = _Cart(f"c-{secrets.token_hex(6)}", account, sku, sale.price)
            csrf = secrets.token_urlsafe(18)
            mine = self._accounts.setdefault(account, _Account())
            mine.carts[cart.cart_id] = cart
            mine.csrfs.add(csrf)
        payload = {"code": 0, "data": {"cartId": cart.cart_id, "items": [{"price": cart.price}]}}
        return 200, payload, (("Set-Cookie", f"csrf={csrf}; Path=/; HttpOnly"),)

    def _token(self, request: _Request, account: str) -> _Answer:
        try:
            sku = json.loads(request.body)["sku"]
        except (ValueError, TypeError, KeyError):
            return _refuse(400, 400, 'the body must be {"sku": ID}')
        with self._lock:
            sale = self._sales.get(sku) if isinstance(sku, str) else None
            if sale is None:
                return _refuse(200, _NO_ITEM, "no such item")
            if request.at_ms < sale.opening_ms + sale.not_started_extra_ms:
                return _refuse(200, _NOT_STARTED, "not started")
            token = f"t-{secrets.token_hex(8)}"
            self._accounts.setdefault(account, _Account()).tokens[token] = sku
        return 200, {"code": 0, "data": {"token": token}}, ()

    def _submit(self, request: _Request, account: str) -> _Answer:
        try:
            body = json.loads(request.body)
            token, cart_id, price = body["token"], body["cartId"], body["price"]
        except (ValueError, TypeError, KeyError):
            return _refuse(400, 400, "the body must hold token, cartId and price")
        if request.headers.get("x-token") != token:
            return _refuse(400, 400, "X-Token differs from the body's token")
        with self._lock:
            mine = self._accounts.get(account, _Account())
            sku = mine.tokens.pop(token, None) if isinstance(token, str) else None
            cart = mine.carts.get(cart_id) if isinstance(cart_id, str) else None
            csrf = request.cookies.get("csrf", "")
            refused = _check_submit(sku, cart, price, csrf in mine.csrfs)
            if refused is not None:
                return refused
            assert sku is not None
            sale = self._sales[sku]
            if any(o.account == account and o.sku == sku for o in self._orders):
                return _refuse(200, _LIMIT, "限购")
            if sale.stock <= 0:
                return _refuse(200, _SOLD_OUT, "售罄")
            sale.stock -= 1
            order = Order(
                f"O{int(request.at_ms)}{secrets.token_hex(3)}",
                sku,
                account,
                str(cart_id),
                str(token),
                csrf,
                str(body.get("rid", "")),
                request.at_ms,
                request.peer_port,
            )
            self._orders.append(order)
        return 200, {"code": 0, "data": {"orderId": order.order_id}}, ()


def _check_submit(
    sku: str | None, cart: _Cart | None, price: object, csrf_ok: bool
) -> _Answer | None:
    """Why a submit is refused (400), or None."""
    if sku is None:
        return _refuse(400, 400, "unknown or used token")
    if cart is None or cart.sku != sku:
        return _refuse(400, 400, "unknown cartId")
    if isinstance(price, bool) or not isinstance(price, int | float):
        return _refuse(400, 400, "price must be a number")
    if price != cart.price:
        return _refuse(400, 400, "price differs from the cart's")
    if not csrf_ok:
        return _refuse(400, 400, "missing or wrong csrf cookie")
    return None


def checkout_flow(url: str, *, cart_name: str = "cart", save_csrf: bool = False) -> list[Any]:
    """The shop's checkout (at ``url``) as a flow, as a user writes it: the cart before the
    opening, then the token and the submit."""
    cart_save: dict[str, Any] = {
        "cart_id": {"json": "data.cartId"},
        "price": {"json": "data.items.0.price"},
    }
    if save_csrf:
        cart_save["csrf"] = {"cookie": "csrf"}
    return [
        {
            "name": cart_name,
            "when": "before",
            "request": {
                "method": "GET",
                "url": f"{url}/api/cart?sku={{sku_id}}",
                "headers": {"X-Requested-With": "XMLHttpRequest"},
            },
            "expect": {"status": [200], "json": "code", "equals": 0},
            "save": cart_save,
        },
        {
            "name": "token",
            "when": "open",
            "request": {
                "method": "POST",
                "url": f"{url}/api/seckill/token",
                "body": '{"sku":"{sku_id}"}',
            },
            "save": {"token": {"json": "data.token"}},
            "rules": {"not_started": [{"json": "code", "equals": 4002}]},
        },
        {
            "name": "submit",
            "request": {
                "method": "POST",
                "url": f"{url}/api/order/submit",
                "headers": {"X-Token": "{token}", "Content-Type": "application/json"},
                "body": '{"cartId":"{cart_id}","price":{price},"token":"{token}",'
                '"rid":"{request_id}"}',
            },
            "rules": {"order_id": [{"json": "data.orderId"}], "sold_out": [{"regex": "售罄"}]},
        },
    ]


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; the port on the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--skew-ms", type=float, default=0.0)
    parser.add_argument("--session", action="append", help="a live login (default: any)")
    args = parser.parse_args(argv)
    stop = {signal.SIGTERM, signal.SIGINT}
    # Blocked before any thread starts, so that every thread inherits it and sigwait gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    sessions = frozenset(args.session) if args.session else None
    with CheckoutShop(skew_ms=args.skew_ms, sessions=sessions, port=args.port) as shop:
        print(shop.port, flush=True)
        signal.sigwait(stop)
    sys.exit(0)


if __name__ == "__main__":
    main()
