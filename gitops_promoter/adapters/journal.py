"""The journal (ports.Journal) on SQLAlchemy Core: SQLite for one replica, PostgreSQL for several.

A cache of git and the code host plus in-flight analysis, so every fault is mapped once here:
an unreachable or locked database → JournalUnavailable (transient, retry later), a database
written by a newer promoter → JournalError (permanent). Passwords never leave this module:
the database is named by its URL with the password masked.

SQLite: WAL, synchronous=NORMAL, a busy timeout and foreign keys on every connection; write
transactions take the write lock up front (BEGIN IMMEDIATE) so two writers wait for each other
instead of failing with "database is locked". The engine's pool gives each thread its own
connection, so reconciles in a thread pool and a second process on the same file are both safe.

Schema: `schema_version` holds one integer. Opening creates the tables of a new database, or
runs the migrations of an older one, in one transaction under a lock (the SQLite write lock,
an advisory lock on PostgreSQL), so two processes opening a new database at once both succeed.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlalchemy.sql.dml import Insert

from gitops_promoter.domain.analysis_run import AnalysisRun, dumps, loads
from gitops_promoter.errors import PermanentError, TransientError
from gitops_promoter.ports import Recorded

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OUTCOME_WINDOW = 200  # outcomes kept per app × environment
BUSY_TIMEOUT = 5.0  # seconds a SQLite writer waits for another one
_SCHEMA_LOCK = zlib.crc32(b"gitops-promoter journal schema")  # PostgreSQL advisory lock key
_WRITE = "journal_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


class JournalError(PermanentError):
    """The journal cannot be used as it is (a newer schema, an unusable target)."""


class JournalUnavailable(TransientError):
    """The journal's database cannot be reached or stayed locked: retry later."""


# --- schema -------------------------------------------------------------------------------

metadata = MetaData()

_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid

schema_version = Table(
    "schema_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: one row
    Column("version", Integer, nullable=False),
)

analysis_runs = Table(
    "analysis_runs", metadata,
    Column("key", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
    Column("state", Text, nullable=False),  # analysis_run.dumps: JSON text, NaN and infinities kept
    Column("updated_at", Double, nullable=False),  # epoch seconds
)

seen_tags = Table(
    "seen_tags", metadata,
    Column("image", String, primary_key=True),
    Column("tags", Text, nullable=False),  # JSON object: tag → digest or null
    Column("updated_at", Double, nullable=False),
)

pull_requests = Table(
    "pull_requests", metadata,
    Column("app", String, primary_key=True),
    Column("env", String, primary_key=True),
    Column("number", Integer, nullable=False),
)

outcomes = Table(
    "outcomes", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("app", String, nullable=False),
    Column("env", String, nullable=False),
    Column("status", String, nullable=False),
    Column("detail", Text, nullable=False),
    Column("from_tag", String),
    Column("to_tag", String),
    Column("sha", String),
    Column("pr", Integer),
    Index("ix_outcomes_app_env_id", "app", "env", "id"),
    sqlite_autoincrement=True,  # ids never reused: newest first is id order
)

Migration = Callable[[Connection], None]

# MIGRATIONS[i] takes a database from version i + 1 to i + 2, inside the opening transaction.
# A change of schema: edit the tables above (new databases), append its migration here (old
# ones) and bump SCHEMA_VERSION.
MIGRATIONS: list[Migration] = []


# --- opening ------------------------------------------------------------------------------

def open_journal(target: str, *, base_dir: Path | None = None, busy_timeout: float = BUSY_TIMEOUT) -> SqlJournal:
    """The journal at `target`: a path of a SQLite file (a relative one resolves against
    `base_dir`; parent directories are created) or a URL (`sqlite:///…`, `postgresql://…`,
    `postgresql+psycopg://…`). Creates or migrates the schema. `busy_timeout` (SQLite): how long
    a writer waits for another before JournalUnavailable."""
    url = _url(target, base_dir=base_dir)
    try:
        engine = _engine(url, busy_timeout=busy_timeout)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise JournalError(f"journal {_masked(url)}: {_scrub(str(exc), url)}") from None
    journal = SqlJournal(engine)
    try:
        journal.migrate()
    except BaseException:
        engine.dispose()
        raise
    log.info("journal %s open (schema version %d)", journal.name, SCHEMA_VERSION)
    return journal


def _url(target: str, *, base_dir: Path | None) -> URL:
    if target == ":memory:":
        return URL.create("sqlite+pysqlite")
    if "://" not in target:
        return URL.create("sqlite+pysqlite", database=str(_sqlite_path(target, base_dir)))
    try:
        url = make_url(target)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise JournalError(f"journal {_mask_text(target)}: not a database URL") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername=f"postgresql+{driver or 'psycopg'}")
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.query.get("uri"):
        return url.set(database=str(_sqlite_path(url.database, base_dir)))
    return url


def _sqlite_path(target: str, base_dir: Path | None) -> Path:
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"journal {path}: cannot create its directory: {exc.strerror or exc}") from None
    return path


def _engine(url: URL, *, busy_timeout: float) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True, pool_recycle=1800,
                             connect_args={"connect_timeout": 10, "application_name": "gitops-promoter"})
    if not url.database or url.database == ":memory:":
        # one in-memory database: one connection, so every transaction is serialized by the pool
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        _sqlite_setup(engine, busy_timeout=busy_timeout, wal=False)
    else:
        engine = create_engine(url, pool_size=4, max_overflow=12, pool_timeout=busy_timeout + 30,
                               connect_args={"timeout": busy_timeout})
        _sqlite_setup(engine, busy_timeout=busy_timeout, wal=True)
    return engine


def _sqlite_setup(engine: Engine, *, busy_timeout: float, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # first: the next ones may wait
            if wal:
                _switch_to_wal(cursor, timeout=busy_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # a writer takes the write lock first: waiting (busy timeout) beats failing on upgrade
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _switch_to_wal(cursor: DBAPICursor, *, timeout: float) -> None:
    """PRAGMA journal_mode=WAL, retried: while other connections open a new file at the same
    moment, the switch answers "database is locked" at once instead of waiting (busy timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            row = cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            problem = f"journal mode is {row[0] if row else None}, not wal"
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            problem = str(exc)
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError(f"database is locked: cannot switch to WAL ({problem})")
        time.sleep(0.01)


# --- the journal --------------------------------------------------------------------------

class SqlJournal:
    """ports.Journal on one SQLAlchemy engine. Thread-safe; one per process and database."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        # an in-memory SQLite database is one shared connection: one transaction at a time
        self._serial: AbstractContextManager[Any] = (
            threading.Lock() if isinstance(engine.pool, StaticPool) else nullcontext())
        self.name = _masked(engine.url)  # for messages and logs: the password masked

    # schema

    def migrate(self) -> int:
        """Create the schema of a new database or migrate an older one; the version it has now."""
        with self._write() as conn:
            if self._postgres:
                conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            found = self._version(conn)
            if found is None:
                metadata.create_all(conn, checkfirst=True)
                self._set_version(conn, SCHEMA_VERSION)
            elif found > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.name} has schema version {found}, newer than this promoter's "
                    f"{SCHEMA_VERSION}: upgrade the promoter or point it at another journal")
            elif found < SCHEMA_VERSION:
                for number, migration in enumerate(MIGRATIONS[found - 1:SCHEMA_VERSION - 1], start=found):
                    log.info("journal %s: migrating schema version %d → %d", self.name, number, number + 1)
                    migration(conn)
                self._set_version(conn, SCHEMA_VERSION)
        return SCHEMA_VERSION

    def schema_version(self) -> int | None:
        with self._read() as conn:
            return self._version(conn)

    @staticmethod
    def _version(conn: Connection) -> int | None:
        if not inspect(conn).has_table(schema_version.name):
            return None
        found = conn.scalar(select(schema_version.c.version).where(schema_version.c.id == 1))
        return None if found is None else int(found)

    def _set_version(self, conn: Connection, version: int) -> None:
        conn.execute(self._upsert(schema_version, {"id": 1, "version": version}, keys=("id",)))

    # analysis

    def load_analysis(self, key: str) -> AnalysisRun | None:
        with self._read() as conn:
            state = conn.scalar(select(analysis_runs.c.state).where(analysis_runs.c.key == key))
        if state is None:
            return None
        try:
            return loads(state)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("journal %s: the analysis state under %r is unreadable (%s); the gate's analysis "
                        "starts over", self.name, key, exc)
            return None

    def save_analysis(self, run: AnalysisRun) -> None:
        row = {"key": run.key, "fingerprint": run.fingerprint, "state": dumps(run), "updated_at": self._clock()}
        with self._write() as conn:
            conn.execute(self._upsert(analysis_runs, row, keys=("key",)))

    def drop_analysis(self, key: str) -> None:
        with self._write() as conn:
            conn.execute(delete(analysis_runs).where(analysis_runs.c.key == key))

    # registries

    def seen_tags(self, image: str) -> Mapping[str, str | None] | None:
        with self._read() as conn:
            raw = conn.scalar(select(seen_tags.c.tags).where(seen_tags.c.image == image))
        if raw is None:
            return None
        try:
            tags = json.loads(raw)
            return {str(tag): None if digest is None else str(digest) for tag, digest in tags.items()}
        except (ValueError, AttributeError) as exc:
            log.warning("journal %s: the tags seen for %r are unreadable (%s); polling afresh",
                        self.name, image, exc)
            return None

    def record_tags(self, image: str, tags: Mapping[str, str | None]) -> None:
        row = {"image": image, "tags": json.dumps(dict(tags)), "updated_at": self._clock()}
        with self._write() as conn:
            conn.execute(self._upsert(seen_tags, row, keys=("image",)))

    # pull requests

    def pr_number(self, app: str, env: str) -> int | None:
        with self._read() as conn:
            found = conn.scalar(select(pull_requests.c.number)
                                .where(pull_requests.c.app == app, pull_requests.c.env == env))
        return None if found is None else int(found)

    def record_pr(self, app: str, env: str, number: int | None) -> None:
        with self._write() as conn:
            if number is None:
                conn.execute(delete(pull_requests).where(pull_requests.c.app == app, pull_requests.c.env == env))
            else:
                row = {"app": app, "env": env, "number": number}
                conn.execute(self._upsert(pull_requests, row, keys=("app", "env")))

    # outcomes

    def record_outcomes(self, rows: Sequence[Recorded]) -> None:
        if not rows:
            return
        values = [{"at": r.at, "app": r.app, "env": r.env, "status": r.status, "detail": r.detail,
                   "from_tag": r.from_tag, "to_tag": r.to_tag, "sha": r.sha, "pr": r.pr} for r in rows]
        with self._write() as conn:
            conn.execute(outcomes.insert(), values)
            for app, env in sorted({(r.app, r.env) for r in rows}):
                oldest_kept = (select(outcomes.c.id)
                               .where(outcomes.c.app == app, outcomes.c.env == env)
                               .order_by(outcomes.c.id.desc())
                               .offset(OUTCOME_WINDOW - 1).limit(1)
                               .scalar_subquery())
                conn.execute(delete(outcomes).where(outcomes.c.app == app, outcomes.c.env == env,
                                                    outcomes.c.id < oldest_kept))

    def recent(self, *, app: str | None = None, env: str | None = None, limit: int = 50) -> list[Recorded]:
        query = select(outcomes).order_by(outcomes.c.id.desc()).limit(max(limit, 0))
        if app is not None:
            query = query.where(outcomes.c.app == app)
        if env is not None:
            query = query.where(outcomes.c.env == env)
        with self._read() as conn:
            found = conn.execute(query).all()
        return [Recorded(at=r.at, app=r.app, env=r.env, status=r.status, detail=r.detail, from_tag=r.from_tag,
                         to_tag=r.to_tag, sha=r.sha, pr=r.pr) for r in found]

    # lifetime

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlJournal:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlJournal({self.name})"

    # plumbing

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._serial, self._faults(), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._serial, self._faults(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """The database's faults as the promoter's: retry later, with the password nowhere."""
        try:
            yield
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
            raise JournalUnavailable(f"journal {self.name} unavailable: {_detail(exc, self._engine.url)}") from None

    def _upsert(self, table: Table, row: dict[str, Any], *, keys: Sequence[str]) -> Insert:
        changes = [name for name in row if name not in keys]
        if self._postgres:
            pg = postgresql.insert(table).values(row)
            return pg.on_conflict_do_update(index_elements=list(keys), set_={c: pg.excluded[c] for c in changes})
        lite = sqlite.insert(table).values(row)
        return lite.on_conflict_do_update(index_elements=list(keys), set_={c: lite.excluded[c] for c in changes})


# --- secrets ------------------------------------------------------------------------------

def _masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _mask_text(text: str) -> str:
    """A URL-like string that SQLAlchemy could not parse, its password masked."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def _scrub(text: str, url: URL) -> str:
    password = url.password
    if password:
        text = text.replace(str(password), "***")
    return _mask_text(text)


def _detail(exc: sa_exc.SQLAlchemyError, url: URL) -> str:
    """The driver's own words (first line), without the SQL, parameters or password."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(orig or exc).__name__)
    return _scrub(first, url)
