"""A fault-injecting HTTP proxy in front of a real registry (Debian's docker-registry): requests
are forwarded unchanged unless a scripted `Fault` matches them, which then answers for the
registry or spoils its answer — a status, a Retry-After, a hang, an answer trickled byte by byte,
a body cut short, garbage or hostile JSON, a wrong Content-Type, a missing digest header, a Link
that loops, a tag deleted upstream just before the request goes through.

The product's real httpx client talks to it unchanged (HTTP/1.1, keep-alive, Content-Length).
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlparse

from tests.support.net import LocalServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "content-length", "host", "accept-encoding"}


@dataclass
class Fault:
    """What the proxy does to the requests it matches (`path`: a regex searched in the path and
    query; `method`: one method or any). `times` spoils that many matching requests (None: all)."""

    path: str
    method: str | None = None
    times: int | None = None
    status: int | None = None  # answer this status instead of the registry's answer
    headers: dict[str, str] = field(default_factory=dict)  # set on the answer
    drop: tuple[str, ...] = ()  # headers removed from the answer
    body: bytes | Callable[[bytes], bytes] | None = None  # replaces (or rewrites) the answer's body
    delay: float = 0.0  # wait this long before answering (a hang, when beyond the client's patience)
    trickle: float | None = None  # send the whole answer, status line and headers too, a byte every N s
    truncate: int | None = None  # send only this many body bytes, then close (Content-Length says all)
    chunked: bool = False  # send the body chunked, without Content-Length
    before: Callable[[], None] | None = None  # run before forwarding (delete a tag upstream, …)
    hits: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.path, target) is not None


class FaultProxy(LocalServer):
    """`with FaultProxy(upstream_url) as proxy:` then `proxy.fault(...)`; `proxy.log` lists every
    request as "METHOD /path?query" in arrival order."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.faults: list[Fault] = []
        self.log: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._serve()
        # Asked to stop, serve_forever notices within its poll interval: keep teardown quick.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def fault(self, path: str, **kw: object) -> Fault:
        fault = Fault(path, **kw)  # type: ignore[arg-type]
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # ends hangs and trickles
        super().__exit__(*exc)

    def _match(self, method: str, target: str) -> Fault | None:
        with self._lock:
            self.log.append(f"{method} {target}")
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.hits += 1
                    return fault
        return None

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes | None
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders()], data
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.handle_any()

            def do_HEAD(self) -> None:  # noqa: N802
                self.handle_any()

            def do_PUT(self) -> None:  # noqa: N802
                self.handle_any()

            def do_POST(self) -> None:  # noqa: N802
                self.handle_any()

            def do_PATCH(self) -> None:  # noqa: N802
                self.handle_any()

            def do_DELETE(self) -> None:  # noqa: N802
                self.handle_any()

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else None
                fault = proxy._match(self.command, self.path)
                if fault is not None and fault.before is not None:
                    fault.before()
                if fault is not None and fault.delay and proxy.stopping.wait(fault.delay):
                    self.close_connection = True
                    return
                if fault is not None and fault.status is not None:
                    status, headers, body = fault.status, [("Content-Type", "application/json")], b""
                else:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    status, headers, body = proxy._forward(self.command, self.path, forwarded, sent)
                length_header = next((v for k, v in headers if k.lower() == "content-length"), None)
                headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
                if fault is not None:
                    gone = {h.lower() for h in (*fault.drop, *fault.headers)}
                    headers = [(k, v) for k, v in headers if k.lower() not in gone] + list(fault.headers.items())
                    if callable(fault.body):
                        body = fault.body(body)
                    elif fault.body is not None:
                        body = fault.body
                self.answer(status, headers, body, fault, head_length=length_header)

            def answer(self, status: int, headers: list[tuple[str, str]], body: bytes, fault: Fault | None,
                       *, head_length: str | None) -> None:
                chunked = fault is not None and fault.chunked
                head = self.command == "HEAD"
                lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'Unknown')}"]
                lines += [f"{k}: {v}" for k, v in headers]
                if chunked:
                    lines.append("Transfer-Encoding: chunked")
                else:
                    keep = head and body == b"" and head_length is not None  # HEAD says the GET's length
                    lines.append(f"Content-Length: {head_length if keep else len(body)}")
                if fault is not None and (fault.truncate is not None or fault.trickle is not None):
                    lines.append("Connection: close")
                    self.close_connection = True
                raw_head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
                if head:
                    payload = b""
                elif chunked:
                    payload = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                                       for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
                else:
                    payload = body
                if fault is not None and fault.truncate is not None:
                    payload = payload[:fault.truncate]
                whole = raw_head + payload
                try:
                    if fault is not None and fault.trickle is not None:
                        for i in range(len(whole)):
                            self.wfile.write(whole[i:i + 1])
                            self.wfile.flush()
                            if proxy.stopping.wait(fault.trickle):
                                break
                    else:
                        self.wfile.write(whole)
                        self.wfile.flush()
                except OSError:  # the client gave up: what this fault is for
                    self.close_connection = True

        return Handler
