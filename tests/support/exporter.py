"""A tiny service exporter for Prometheus to scrape: `http_requests_total{service, code}` grows at
a steady request rate, and the test controls the share of 5xx per service (per canary tag)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.support.net import LocalServer


class Exporter(LocalServer):
    def __init__(self, *, rps: float = 100.0) -> None:
        self.rps = rps
        self.error_rate: dict[str, float] = {}  # service -> share of requests answered 5xx
        self._ok: dict[str, float] = {}
        self._err: dict[str, float] = {}
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._serve()

    def set(self, service: str, error_rate: float) -> None:
        with self._lock:
            self._advance()
            self.error_rate[service] = error_rate

    def _advance(self) -> None:
        now = time.monotonic()
        dt, self._last = now - self._last, now
        for service, rate in self.error_rate.items():
            self._ok[service] = self._ok.get(service, 0.0) + dt * self.rps * (1 - rate)
            self._err[service] = self._err.get(service, 0.0) + dt * self.rps * rate

    def render(self) -> str:
        with self._lock:
            self._advance()
            lines = ["# HELP http_requests_total Requests served.", "# TYPE http_requests_total counter"]
            for service in sorted(self.error_rate):
                lines.append(f'http_requests_total{{service="{service}",code="200"}} {self._ok[service]:.3f}')
                lines.append(f'http_requests_total{{service="{service}",code="500"}} {self._err[service]:.3f}')
            return "\n".join(lines) + "\n"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
