"""A real PostgreSQL server from Debian's packages (/usr/lib/postgresql/<version>/bin), started
once per test session in a temporary directory on a free 127.0.0.1 port.

Trust authentication on 127.0.0.1 for the superuser `postgres`, plus one password-protected
role (`SECRET_ROLE` / `SECRET_PASSWORD`, scram-sha-256) for the tests that prove a password is
never leaked. As root (CI), initdb and postgres run as an unprivileged user (`nobody`, or a
`promoter-test` user created on the spot) that owns the data directory: both refuse root.

Durability is off (fsync, full_page_writes): the data lives for one session. The server is
stopped (fast shutdown) at session end, at interpreter exit, and - via PR_SET_PDEATHSIG - when
the test process dies without cleaning up, so no server outlives the tests.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.support.net import free_port

SUPERUSER = "postgres"
SECRET_ROLE = "promoter_secret"
SECRET_PASSWORD = "Sw0rdfish-never-in-logs"
TEST_USER = "promoter-test"


class PostgresMissing(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            version = tuple(int(n) for n in re.findall(r"\d+", candidate.parent.name))
            found.append((version, candidate))
    if not found:
        raise PostgresMissing(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/postgres "
            "(`make test` installs Debian's postgresql package; or `apt-get install postgresql`)")
    return max(found)[1]


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Whom to run the server as: None when not root, else an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", TEST_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
                   check=True, capture_output=True)
    return pwd.getpwnam(TEST_USER)


def _die_with_parent() -> None:  # runs in the child, after it became the unprivileged user
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG: fast shutdown
    except (OSError, AttributeError):
        pass


@dataclass
class PostgresServer:
    port: int = 0
    dir: Path | None = None
    bin_dir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    _user: pwd.struct_passwd | None = field(default=None, repr=False)

    # --- addresses ------------------------------------------------------------------------

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None,
            driver: str = "postgresql") -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"{driver}://{auth}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database} connect_timeout=5"

    # --- administration -------------------------------------------------------------------

    def execute(self, sql: str, *, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser (autocommit); the rows it returns."""
        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            cur = conn.execute(sql)  # type: ignore[call-overload]
            return list(cur.fetchall()) if cur.description else []

    def create_database(self, *, owner: str = SUPERUSER, prefix: str = "t") -> str:
        """A fresh, empty database with a unique name; returns the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE template0')
        return name

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        self.bin_dir = find_bin_dir()
        self._user = _unprivileged_user()
        base = "/tmp" if self._user is not None else None  # root's TMPDIR may be closed to that user
        self.dir = Path(tempfile.mkdtemp(prefix="postgres-", dir=base))
        atexit.register(self.stop)
        try:
            self._initdb()
            for _ in range(3):  # a free port may be taken before the server binds it
                if self._launch():
                    break
            else:
                raise RuntimeError(f"postgres did not start: {self._log_tail()}")
            self.execute(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET_PASSWORD}'")
        except BaseException:
            self.stop()
            raise
        return self

    def _run_as(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        assert self.dir is not None and self.bin_dir is not None
        if self._user is not None:
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        done = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.dir / "data"), "-U", SUPERUSER, "--auth=trust",
             "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"],
            cwd=self.dir, capture_output=True, env={**os.environ, "LC_ALL": "C"},
            **self._run_as())  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")
        (self.dir / "data" / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {SECRET_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n")
        self.version = (self.dir / "data" / "PG_VERSION").read_text().strip()

    def _launch(self) -> bool:
        """Start postgres on a fresh port; False when it exited early (port taken)."""
        assert self.dir is not None and self.bin_dir is not None
        self.port = free_port()
        logfile = open(self.dir / "log", "ab")  # the child keeps its own copy
        try:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=100", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"],
                cwd=self.dir, stdout=subprocess.DEVNULL, stderr=logfile, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent, **self._run_as())  # type: ignore[call-overload]
        finally:
            logfile.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise TimeoutError(f"postgres did not accept connections on 127.0.0.1:{self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")[-2000:] if self.dir else ""
        except OSError:
            return ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnect clients, checkpoint, exit); then remove the files."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server. Fails (never skips) when PostgreSQL is not installed."""
    missing = ""
    try:
        server = PostgresServer().start()
    except PostgresMissing as exc:
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    try:
        yield server
    finally:
        server.stop()
