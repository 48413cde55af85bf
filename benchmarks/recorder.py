"""A tiny HTTP server that notes when each request's first byte reached its socket.

The time is the kernel's receive timestamp of the packet (``SO_TIMESTAMPNS``), so neither this
process's scheduling nor its Python code moves it. ``GET /api/time`` answers its clock (the
machine's, shifted by ``--skew-ms``), like the store. ``POST /api/orders`` is answered 201 with an
order; ``GET /arrivals`` returns and clears the record ``[connection, path, server ms, cookie]``.
One thread per connection. Run: ``python recorder.py PORT --skew-ms N``; for fire_precision.py.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time

import h11

_ORDER = json.dumps(
    {
        "order_id": "20240101000000000000000recorder",
        "sku_id": "x",
        "qty": 1,
        "user": "u",
        "created_ms": 0,
    }
).encode()
_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Recorder:
    """The listening socket, the record, and one thread per connection."""

    def __init__(self, port: int, skew_ms: float) -> None:
        self.skew_ms = skew_ms
        self.arrivals: list[tuple[int, str, float, str]] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", port), backlog=128)

    def serve(self) -> None:
        """Accept forever."""
        for conn_id in range(1, 1_000_000):
            sock, _ = self.listener.accept()
            sock.setsockopt(socket.SOL_SOCKET, _TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.handle, args=(sock, conn_id), daemon=True).start()

    def handle(self, sock: socket.socket, conn_id: int) -> None:
        """Read requests, note their first byte's kernel time, answer."""
        conn = h11.Connection(h11.SERVER)
        first: float | None = None
        target = cookie = ""
        with sock:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(16))
                    if not data:
                        return
                    if first is None:
                        first = self._kernel_ms(ancdata)
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    target = event.target.decode()
                    cookie = dict(event.headers).get(b"cookie", b"").decode()
                elif isinstance(event, h11.EndOfMessage):
                    sock.sendall(self._answer(conn, target, first, cookie))
                    conn.start_next_cycle()
                    first = None
                elif isinstance(event, h11.ConnectionClosed):
                    return

    def _kernel_ms(self, ancdata: list[tuple[int, int, bytes]]) -> float:
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == _TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                return float(sec * 1000 + nsec / 1e6 + self.skew_ms)
        return time.time() * 1000 + self.skew_ms

    def _answer(self, conn: h11.Connection, target: str, first: float | None, cookie: str) -> bytes:
        if target == "/api/time":
            body = json.dumps({"now_ms": int(time.time() * 1000 + self.skew_ms)}).encode()
            status = 200
        elif target == "/arrivals":
            with self.lock:
                body, status = json.dumps(self.arrivals).encode(), 200
                self.arrivals.clear()
        else:
            with self.lock:
                self.arrivals.append((0, target, first or 0.0, cookie))
            body, status = _ORDER, 201
        head = conn.send(
            h11.Response(
                status_code=status,
                headers=[("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
        )
        return head + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--skew-ms", type=float, default=0.0)
    args = parser.parse_args()
    Recorder(args.port, args.skew_ms).serve()


if __name__ == "__main__":
    main()
