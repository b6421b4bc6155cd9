"""One writer per workdir: an exclusive flock on `<workdir>/.promoter.lock`.

The kernel drops a flock when its process dies (even by SIGKILL), so a crashed holder never
wedges the next run. The holder writes who it is into the file, so a second process (a cron
`run --once` beside the service) can say who holds it while it waits or gives up.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from gitops_promoter.errors import PromoterError

LOCK_FILE = ".promoter.lock"


class LockHeld(PromoterError):
    """Another process holds the workdir; names it."""


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class WorkdirLock:
    def __init__(self, workdir: Path, *, timeout: float, command: str = "",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = workdir / LOCK_FILE
        self.timeout = timeout
        self.command = command or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
        self._fd: int | None = None
        self._sleep, self._clock = sleep, clock

    def acquire(self, *, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Take the lock, waiting up to `timeout` seconds; LockHeld names the holder after that
        (or as soon as `cancelled()` says so: a SIGTERM while waiting)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = self._clock() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same_file(fd, self.path):
                    break
                # The file was removed (or replaced) after we opened it: a lock on it guards nothing.
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                continue
            except BlockingIOError:
                if self._clock() >= deadline or cancelled():
                    holder = self.holder() or "another process"
                    os.close(fd)
                    raise LockHeld(f"{self.path.parent} is in use by {holder}; waited {self.timeout:g}s "
                                   f"(state.lock_timeout)") from None
                self._sleep(0.1)
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}: {self.command}\n".encode(), 0)
        self._fd = fd

    def verify(self) -> bool:
        """Whether this process still holds the workdir: its locked file is the one at the path.
        When the file was deleted (an `rm -rf` of the workdir), take a new one if nobody else did;
        False when another process has it now (the holder must stop writing)."""
        if self._fd is None:
            return False
        if _same_file(self._fd, self.path):
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.close(self._fd)
        self._fd = fd
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}: {self.command}\n".encode(), 0)
        return True

    def holder(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        return text or None

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
