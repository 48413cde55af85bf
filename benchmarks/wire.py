"""When each order request reached a loopback port, by the kernel's clock: a packet socket on
``lo`` with kernel timestamps, read after the burst. It needs root (or ``CAP_NET_RAW``); it
sees only this machine's loopback traffic."""

from __future__ import annotations

import re
import socket
import struct

#: Linux's numbers, which the socket module does not name.
SO_TIMESTAMPNS, SO_RCVBUFFORCE, ETH_P_ALL = 35, 33, 0x0003
#: The loopback device's frames carry a 14-byte Ethernet header.
ETH_HEADER = 14
USER = re.compile(rb'"user":"([^"]+)"')


class WireTap:
    """Packets arriving at ``port`` on ``lo`` (as received: not the sender's outgoing copy),
    buffered by the kernel from :meth:`open` until :meth:`drain` reads them."""

    def __init__(self, port: int, buffer_bytes: int = 256 * 1024 * 1024) -> None:
        self.port, self.buffer_bytes = port, buffer_bytes
        self.sock: socket.socket | None = None

    def open(self) -> None:
        """Start capturing; PermissionError without root."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.buffer_bytes)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind(("lo", 0))
        self.sock = sock

    def drain(self) -> dict[str, float]:
        """Each user's first request (``POST`` with ``"user":"…"`` in it) to the port: when it
        arrived, epoch ms by the kernel's stamp. Closes the capture."""
        assert self.sock is not None
        sock, self.sock = self.sock, None
        sock.setblocking(False)
        first: dict[str, float] = {}
        try:
            while True:
                try:
                    data, ancillary, _, address = sock.recvmsg(65536, 64)
                except BlockingIOError:
                    break
                if address[2] != socket.PACKET_HOST:
                    continue
                found = self._request(data)
                if found is None:
                    continue
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = struct.unpack("qq", value[:16])
                        first.setdefault(found, seconds * 1000 + nanoseconds / 1e6)
        finally:
            sock.close()
        return first

    def _request(self, frame: bytes) -> str | None:
        """The user of an order request to our port in this frame, else None."""
        ip = frame[ETH_HEADER:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
            return None
        tcp = ip[(ip[0] & 0x0F) * 4 :]
        if len(tcp) < 20 or int.from_bytes(tcp[2:4], "big") != self.port:
            return None
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if not payload.startswith(b"POST "):
            return None
        user = USER.search(payload)
        return None if user is None else user.group(1).decode()
