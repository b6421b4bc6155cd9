"""Debian's Prometheus on 127.0.0.1, scraping the test exporter every second."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.net import free_port, stop_process, wait_for_port


@dataclass
class PrometheusServer:
    target: str  # host:port of the exporter
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed (make test installs it)")
        self.dir = self.dir or Path(tempfile.mkdtemp(prefix="prometheus-"))
        self.port = self.port or free_port()
        (self.dir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['{self.target}']}}]\n")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "wb"))
        wait_for_port(self.port, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("prometheus did not become ready")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a node loss would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def wait_for(self, query: str, *, timeout: float = 20.0) -> None:
        """Until `query` returns a non-empty instant vector (rate() needs two scrapes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5).json()
            if r.get("data", {}).get("result"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"no data for {query} after {timeout}s")

    def cleanup(self) -> None:
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
