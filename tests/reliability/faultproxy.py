"""A fault-injecting HTTP proxy between the workbench and a real Tryton server.

It listens on 127.0.0.1 (a free port), forwards each JSON-RPC request to the server and, at a
configured rate, breaks it in one of the ways a real network, gateway or overloaded server
breaks requests. The decisions come from one seeded ``random.Random``, drawn in the order the
requests arrive, so a run is reproducible (the connector sends one request at a time).

Why each fault kind matters:

- ``refuse``: the connection is dropped before the request is forwarded. Tryton did nothing;
  the client only knows the connection broke. A retry must simply work.
- ``drop_after``: the request is forwarded, Tryton does the work and answers, and the
  connection is dropped before the answer reaches the client. The hard case for exactly once:
  the client cannot tell it from ``refuse``, so a retried create must find the party made the
  first time instead of making a second one.
- ``slow``: the answer is delayed, but less than the client's timeout. Nothing may fail.
- ``stall``: the answer is delayed beyond the client's timeout (after Tryton did the work): the
  client gives up on a call that succeeded. Timeouts must be bounded and the retry idempotent.
- ``error_before``: the proxy answers 500, 502 or 503 itself, as a gateway does when the
  server is down or overloaded; nothing was done.
- ``error_after``: the request is forwarded and done, then 500, 502 or 503 is answered
  instead of the result (a gateway timing out on a slow server): done, but reported failed.
- ``cut``: the answer's headers promise the whole body (``Content-Length``) but only the first
  half is sent before the connection closes: the client must see an incomplete answer, not
  crash or decode garbage.
- ``cut_unframed``: the same half body without ``Content-Length``, ended by closing the
  connection (as HTTP/1.0 servers and some proxies frame answers): the client receives
  something that looks complete and is half a JSON document.

HTTP/1.1 keep-alive is honoured (``requests.Session`` reuses connections): each request on a
client connection is framed by its ``Content-Length`` and gets its own fault decision; a fault
that drops the connection ends it, as it would in reality. Every request goes to Tryton on a
connection of its own, so a fault never leaves a half-used upstream connection behind.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Every fault kind, with its default share of the faults.
FAULT_KINDS: dict[str, float] = {
    "refuse": 1.0, "drop_after": 1.5, "slow": 1.0, "stall": 0.3, "error_before": 1.0,
    "error_after": 1.0, "cut": 1.0, "cut_unframed": 1.0,
}
#: Kinds whose request reached Tryton (the work may be done although the client failed).
FORWARDED_KINDS = frozenset({"drop_after", "slow", "stall", "error_after", "cut",
                             "cut_unframed"})
#: Kinds the client must see as a failed call (a ``slow`` answer is still in time).
FAILING_KINDS = frozenset(FAULT_KINDS) - {"slow"}
#: Headers that belong to one connection, not to the message (RFC 9110, 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "te", "trailer", "transfer-encoding",
                         "upgrade", "content-length", "host"})
_STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one request: a kind (None: forward faithfully), a delay for
    ``slow`` and ``stall``, and the status for the error kinds."""

    kind: str | None
    delay: float = 0.0
    status: int = 0


class FaultProxy:
    """A threaded proxy to ``upstream`` that injects faults into ``rate`` of the requests.

    ``weights`` shares the faults among :data:`FAULT_KINDS`; ``slow`` delays are drawn from
    ``slow_delay`` (keep them under the client's timeout) and a ``stall`` lasts ``stall_delay``
    (make it longer than the client's timeout). Counters: ``requests`` (all requests received),
    ``faults`` (by kind) and ``error_statuses`` (the 5xx answered, by status)."""

    def __init__(self, upstream: str, *, rate: float, seed: int,
                 weights: Mapping[str, float] | None = None,
                 slow_delay: tuple[float, float] = (0.05, 0.5),
                 stall_delay: float = 4.0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"the fault rate is a share of the requests, not {rate}")
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the fault proxy forwards to http://host:port, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.rate = rate
        self.weights = dict(weights or FAULT_KINDS)
        unknown = set(self.weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s): {', '.join(sorted(unknown))}")
        self.slow_delay = slow_delay
        self.stall_delay = stall_delay
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.error_statuses: Counter[int] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the client connects instead of the server: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def fault_count(self) -> int:
        return sum(self.faults.values())

    def snapshot(self) -> dict[str, object]:
        """The counters as plain values (for a report)."""
        with self._lock:
            return {"requests": self.requests, "faults": dict(sorted(self.faults.items())),
                    "error_statuses": dict(sorted(self.error_statuses.items()))}

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake stalled answers, close the listening socket."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def draw(self) -> Fault:
        """The fault for the next request (counted), from the seeded generator."""
        with self._lock:
            self.requests += 1
            if self._rng.random() >= self.rate:
                return Fault(None)
            kinds = list(self.weights)
            kind = self._rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            self.faults[kind] += 1
            if kind == "slow":
                return Fault(kind, delay=self._rng.uniform(*self.slow_delay))
            if kind == "stall":
                return Fault(kind, delay=self.stall_delay)
            if kind in ("error_before", "error_after"):
                status = self._rng.choice(sorted(_STATUS_TEXT))
                self.error_statuses[status] += 1
                return Fault(kind, status=status)
            return Fault(kind)

    def forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
                ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send one request to the server on a connection of its own; its whole answer."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            conn.request(method, path, body=body,
                         headers={**dict(headers), "Connection": "close"})
            resp = conn.getresponse()
            data = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            return resp.status, resp.reason, kept, data
        finally:
            conn.close()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the proxy stops."""
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    """One client connection: requests in turn (keep-alive), each with its own fault."""

    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the counters are the record."""

    def do_POST(self) -> None:
        self._relay()

    def do_GET(self) -> None:
        self._relay()

    def _relay(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._answer(411, "Length Required", [], b"the fault proxy needs Content-Length")
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        fault = proxy.draw()
        if fault.kind == "refuse":
            self._drop()
            return
        if fault.kind == "error_before":
            self._error(fault.status)
            return
        try:
            status, reason, out_headers, data = proxy.forward(self.command, self.path,
                                                              headers, body)
        except OSError as exc:  # the server itself is unreachable: say so, as a gateway does
            self._answer(502, "Bad Gateway", [], f"faultproxy: upstream {exc}".encode())
            return
        if fault.kind == "drop_after":
            self._drop(reset=True)
        elif fault.kind == "error_after":
            self._error(fault.status)
        elif fault.kind in ("cut", "cut_unframed"):
            self._cut(status, reason, out_headers, data, framed=fault.kind == "cut")
        else:
            if fault.kind in ("slow", "stall"):
                proxy.wait(fault.delay)
            self._answer(status, reason, out_headers, data)

    def _answer(self, status: int, reason: str, headers: list[tuple[str, str]],
                data: bytes) -> None:
        try:
            self.send_response(status, reason)
            for key, value in headers:
                if key.lower() not in ("server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (a stall beyond its timeout)
            self.close_connection = True

    def _error(self, status: int) -> None:
        text = _STATUS_TEXT[status]
        self._answer(status, text, [("Content-Type", "text/plain")],
                     f"{status} {text} (faultproxy)".encode())

    def _drop(self, *, reset: bool = False) -> None:
        """End the connection without an answer; ``reset``: abortively (RST), as a crashed
        middlebox does, instead of an orderly close."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))

    def _cut(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes, *,
             framed: bool) -> None:
        """Half the body, then close; ``framed``: with the whole body's Content-Length."""
        self.close_connection = True
        try:
            self.send_response(status, reason)
            for key, value in headers:
                if key.lower() not in ("server", "date"):
                    self.send_header(key, value)
            if framed:
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
        except OSError:
            pass


@contextmanager
def fault_proxy(upstream: str, **options: object) -> Iterator[FaultProxy]:
    """``with fault_proxy(url, rate=0.3, seed=1) as proxy:`` a started proxy, stopped after."""
    proxy = FaultProxy(upstream, **options).start()  # type: ignore[arg-type]
    try:
        yield proxy
    finally:
        proxy.stop()
