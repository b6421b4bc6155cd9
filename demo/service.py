"""`gitops-promoter run --config promoter.yaml` as the demo runs it: a process of its own (its own
session, so a Ctrl-C at the terminal reaches the demo, which then stops it with SIGTERM), JSON logs
to a file, and a thread that turns the log into narration lines."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from demo.cluster import Event
from demo.narrate import ACTION_STYLE

PROMOTER = str(Path(sys.executable).parent / "gitops-promoter")


class PromoterService:
    def __init__(self, config: Path, *, url: str, env: dict[str, str], events: queue.Queue[Event]) -> None:
        self.config, self.url, self.events = config, url, events
        self.env = {**os.environ, **env, "GITOPS_PROMOTER_LOG_FORMAT": "json"}
        self.log = config.parent / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.said: dict[tuple[str, str], str] = {}  # (app, env) → the last outcome logged for it
        self.heard: list[str] = []  # every outcome logged, in order
        self.shown: set[str] = set()  # the outcomes narrated already
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.tail = threading.Thread(target=self._tail, name="service-log", daemon=True)

    @property
    def command(self) -> list[str]:
        # debug: the outcomes of every pass (waiting, unchanged, analysing) are logged too
        return [PROMOTER, "--log-level", "debug", "run", "--config", self.config.name]

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, cwd=self.config.parent, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        self.tail.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the service was not ready after {timeout}s; see {self.log}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> float:
        """SIGTERM; returns the seconds until it exited (it must exit 0 within 10 s)."""
        self.stopping.set()
        if not self.running():
            return 0.0
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"the service did not stop within 10 s of SIGTERM; see {self.log}") from None
        if code != 0:
            raise RuntimeError(f"the service exited {code} on SIGTERM; see {self.log}")
        return time.monotonic() - started

    def _tail(self) -> None:
        with open(self.log, encoding="utf-8", errors="replace") as log:
            while not self.stopping.is_set() or self.running():
                line = log.readline()
                if not line:
                    time.sleep(0.05)
                    continue
                event = self._event(line)
                if event is not None:
                    self.events.put(event)

    def _event(self, line: str) -> Event | None:
        """The lines a person watching the service would want: what it was told (webhooks), what it
        did or waits for (each outcome the first time it is said) and every warning or error."""
        try:
            record = json.loads(line)
        except ValueError:
            return ("promoter", line.rstrip(), "")
        message, level = str(record.get("message", "")), record.get("level")
        if level in ("warning", "error", "critical"):
            return ("promoter", f"{level}: {message}", "red")
        action = record.get("action")
        if action is None or record.get("logger", "").startswith("gitops_promoter.workflows"):
            if "now (" in message or "starting the analysis" in message or message.startswith("service started"):
                return ("promoter", message, "dim")
            return None
        with self.lock:
            self.heard.append(message)
            self.said[(str(record.get("app")), str(record.get("env")))] = message
            if message in self.shown:
                return None
            self.shown.add(message)
        return ("promoter", message, ACTION_STYLE.get(str(action), ""))

    def heard_since(self, mark: int, start: str) -> str | None:
        """The first outcome logged after the `mark`-th that starts with `start`."""
        with self.lock:
            return next((m for m in self.heard[mark:] if m.startswith(start)), None)

    def mark(self) -> int:
        with self.lock:
            return len(self.heard)
