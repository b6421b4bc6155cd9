"""The SQL journal against real databases: a SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import logging
import math
import sqlite3
import subprocess
import sys
import textwrap
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from gitops_promoter.adapters import journal as journal_module
from gitops_promoter.adapters.journal import (
    OUTCOME_WINDOW,
    SCHEMA_VERSION,
    JournalError,
    JournalUnavailable,
    SqlJournal,
    open_journal,
)
from gitops_promoter.domain.analysis import Measurement
from gitops_promoter.domain.analysis_run import AnalysisRun, dumps
from gitops_promoter.errors import PermanentError, TransientError
from gitops_promoter.ports import Journal, Recorded
from tests.support.postgres import (
    SECRET_PASSWORD,
    SECRET_ROLE,
    PostgresServer,
    postgres_fixture,  # noqa: F401 - the session's `postgres` fixture
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a brand-new journal goes: a SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "journal.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url(server.create_database())


@pytest.fixture
def journal(target: str):
    with open_journal(target) as j:
        yield j


def raw(target: str):
    """A plain engine on the journal's database, to look behind the adapter's back."""
    url = target if "://" in target else f"sqlite:///{target}"
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"), poolclass=None)


def run(key: str = "app/dev/abc123/0", *, fingerprint: str = "f1") -> AnalysisRun:
    return AnalysisRun(
        key=key, fingerprint=fingerprint, started=1000.5,
        taken={"errors": (Measurement(value=0.25), Measurement(value=float("nan")), Measurement(error="timeout")),
               "latency": (Measurement(value=[1.0, float("inf"), float("-inf")]), Measurement(value=None))},
        times={"errors": (1000.5, 1010.5, 1020.5), "latency": (1000.5, 1010.5)},
        due={"errors": 1030.5, "latency": 1040.0})


def outcome(i: int, *, app: str = "shop", env: str = "dev", **extra: object) -> Recorded:
    return Recorded(at=1_700_000_000.0 + i, app=app, env=env, status="promoted", detail=f"step {i}", **extra)


# --- round trips --------------------------------------------------------------------------

def test_it_is_a_journal(journal: SqlJournal) -> None:
    port: Journal = journal
    assert port is journal


def test_analysis_round_trip_keeps_nan_and_infinities(journal: SqlJournal) -> None:
    assert journal.load_analysis("app/dev/abc123/0") is None
    journal.save_analysis(run())

    loaded = journal.load_analysis("app/dev/abc123/0")
    assert loaded is not None
    assert dumps(loaded) == dumps(run())
    assert loaded.taken["errors"][0] == Measurement(value=0.25)
    assert math.isnan(loaded.taken["errors"][1].value)
    assert loaded.taken["errors"][2] == Measurement(error="timeout")
    assert loaded.taken["latency"][0].value[1:] == [math.inf, -math.inf]
    assert loaded.taken["latency"][1] == Measurement(value=None)
    assert loaded.due == {"errors": 1030.5, "latency": 1040.0}


def test_save_analysis_is_an_upsert_and_drop_forgets(journal: SqlJournal) -> None:
    journal.save_analysis(run())
    journal.save_analysis(run("other/prod/def/1"))
    newer = AnalysisRun(key="app/dev/abc123/0", fingerprint="f2", started=2000.0)
    journal.save_analysis(newer)

    assert journal.load_analysis("app/dev/abc123/0") == newer
    assert journal.load_analysis("other/prod/def/1") is not None
    journal.drop_analysis("app/dev/abc123/0")
    journal.drop_analysis("never/saved")
    assert journal.load_analysis("app/dev/abc123/0") is None
    assert journal.load_analysis("other/prod/def/1") is not None


def test_seen_tags_round_trip_and_upsert(journal: SqlJournal) -> None:
    image = "registry.example.com/shop/api"
    assert journal.seen_tags(image) is None
    journal.record_tags(image, {"1.0.0": "sha256:aa", "1.1.0": None})
    assert journal.seen_tags(image) == {"1.0.0": "sha256:aa", "1.1.0": None}
    journal.record_tags(image, {"1.2.0": "sha256:cc"})
    assert journal.seen_tags(image) == {"1.2.0": "sha256:cc"}
    journal.record_tags("other/image", {})
    assert journal.seen_tags("other/image") == {}  # polled, no tags: not "never polled"
    assert journal.seen_tags(image) == {"1.2.0": "sha256:cc"}


def test_pr_numbers_round_trip_upsert_and_clear(journal: SqlJournal) -> None:
    assert journal.pr_number("shop", "staging") is None
    journal.record_pr("shop", "staging", 12)
    journal.record_pr("shop", "prod", 13)
    journal.record_pr("shop", "staging", 14)
    assert journal.pr_number("shop", "staging") == 14
    assert journal.pr_number("shop", "prod") == 13
    assert journal.pr_number("cart", "staging") is None
    journal.record_pr("shop", "staging", None)
    journal.record_pr("shop", "staging", None)
    assert journal.pr_number("shop", "staging") is None
    assert journal.pr_number("shop", "prod") == 13


def test_outcomes_newest_first_with_filters(journal: SqlJournal) -> None:
    assert journal.recent() == []
    journal.record_outcomes([])
    journal.record_outcomes([outcome(1), outcome(2, env="prod", from_tag="1.0", to_tag="1.1", sha="abc", pr=7)])
    journal.record_outcomes([outcome(3, app="cart"), outcome(4)])

    assert [r.detail for r in journal.recent()] == ["step 4", "step 3", "step 2", "step 1"]
    assert [r.detail for r in journal.recent(app="shop")] == ["step 4", "step 2", "step 1"]
    assert [r.detail for r in journal.recent(env="dev")] == ["step 4", "step 3", "step 1"]
    assert [r.detail for r in journal.recent(app="shop", env="dev", limit=1)] == ["step 4"]
    assert journal.recent(app="nobody") == []
    assert journal.recent(app="shop", env="prod") == [
        Recorded(at=1_700_000_002.0, app="shop", env="prod", status="promoted", detail="step 2",
                 from_tag="1.0", to_tag="1.1", sha="abc", pr=7)]


def test_outcomes_keep_a_bounded_window_per_app_and_env(journal: SqlJournal) -> None:
    journal.record_outcomes([outcome(i) for i in range(150)])
    journal.record_outcomes([outcome(i) for i in range(150, 230)] + [outcome(i, env="prod") for i in range(5)])
    journal.record_outcomes([outcome(i, app="cart") for i in range(3)])

    kept = journal.recent(app="shop", env="dev", limit=1000)
    assert len(kept) == OUTCOME_WINDOW == 200
    assert [r.detail for r in kept] == [f"step {i}" for i in range(229, 29, -1)]
    assert len(journal.recent(app="shop", env="prod", limit=1000)) == 5
    assert len(journal.recent(app="cart", limit=1000)) == 3


def test_threads_share_one_journal(journal: SqlJournal) -> None:
    """The service reconciles apps in a thread pool, all on one journal."""

    def work(n: int) -> None:
        for i in range(10):
            journal.record_outcomes([outcome(i, app=f"app{n}")])
            journal.save_analysis(run(f"app{n}/dev/x/{i % 2}"))
            journal.record_tags(f"image{n}", {str(i): None})
            journal.record_pr(f"app{n}", "prod", i)
            assert journal.load_analysis(f"app{n}/dev/x/{i % 2}") is not None

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert len(journal.recent(limit=1000)) == 80
    assert all(journal.pr_number(f"app{n}", "prod") == 9 for n in range(8))


# --- opening and the schema ---------------------------------------------------------------

def test_schema_version_written_and_reopen_is_idempotent(target: str) -> None:
    with open_journal(target) as first:
        assert first.schema_version() == SCHEMA_VERSION == 1
        first.record_pr("shop", "prod", 3)
    with open_journal(target) as again:
        assert again.schema_version() == SCHEMA_VERSION
        assert again.pr_number("shop", "prod") == 3
    engine = raw(target)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).all() == [(1,)]
    engine.dispose()


def test_a_newer_schema_is_refused(target: str) -> None:
    open_journal(target).close()
    engine = raw(target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 7"))
    engine.dispose()

    with pytest.raises(JournalError) as caught:
        open_journal(target)
    assert isinstance(caught.value, PermanentError)
    assert "schema version 7" in str(caught.value) and "this promoter's 1" in str(caught.value)


def test_an_older_schema_is_migrated_in_order_once(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    open_journal(target).close()
    ran: list[int] = []

    def to_2(conn):  # what a real migration looks like: DDL inside the opening transaction
        ran.append(2)
        conn.execute(text("ALTER TABLE outcomes ADD COLUMN note TEXT"))

    def to_3(conn):
        ran.append(3)
        conn.execute(text("UPDATE outcomes SET note = 'migrated'"))

    monkeypatch.setattr(journal_module, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(journal_module, "MIGRATIONS", [to_2, to_3])
    with open_journal(target) as j:
        assert j.schema_version() == 3
    with open_journal(target) as j:
        assert j.schema_version() == 3
    assert ran == [2, 3]


def test_a_corrupted_analysis_row_starts_over_with_a_warning(journal: SqlJournal, target: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    journal.save_analysis(run("shop/prod/abc/0"))
    journal.save_analysis(run("shop/prod/abc/1"))
    engine = raw(target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE analysis_runs SET state = :s WHERE key = :k"),
                     [{"s": '{"key": "shop/prod/ab', "k": "shop/prod/abc/0"}, {"s": "[1, 2]", "k": "shop/prod/abc/1"}])
    engine.dispose()

    with caplog.at_level(logging.WARNING, logger="gitops_promoter.adapters.journal"):
        assert journal.load_analysis("shop/prod/abc/0") is None
        assert journal.load_analysis("shop/prod/abc/1") is None
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and "'shop/prod/abc/0'" in warned[0] and "'shop/prod/abc/1'" in warned[1]
    journal.save_analysis(run("shop/prod/abc/0"))  # the gate's analysis starts over
    assert journal.load_analysis("shop/prod/abc/0") is not None


def test_threads_opening_a_new_database_at_once_all_succeed(request: pytest.FixtureRequest, tmp_path: Path,
                                                            target: str) -> None:
    targets = [target]
    for n in range(2):  # more rounds, each on a brand-new database
        if "://" in target:
            server: PostgresServer = request.getfixturevalue("postgres")
            targets.append(server.url(server.create_database()))
        else:
            targets.append(str(tmp_path / f"round{n}" / "journal.db"))
    for where in targets:
        barrier = threading.Barrier(4)

        def open_and_write(n: int, where: str = where, barrier: threading.Barrier = barrier) -> int | None:
            barrier.wait()
            with open_journal(where) as j:
                j.record_pr("shop", f"env{n}", n)
                return j.schema_version()

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(open_and_write, range(4))) == [SCHEMA_VERSION] * 4


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from gitops_promoter.adapters.journal import open_journal
    from gitops_promoter.domain.analysis_run import AnalysisRun
    from gitops_promoter.ports import Recorded

    target, app, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.002)
    with open_journal(target) as j:
        for i in range(60):
            j.record_outcomes([Recorded(at=float(i), app=app, env="dev", status="ok", detail=str(i))])
            j.save_analysis(AnalysisRun(key=f"{app}/{i % 3}", fingerprint="f", started=float(i)))
            j.record_tags("shared/image", {f"{app}-{i}": None})
            j.record_pr("shared", "prod", i)
            assert j.load_analysis(f"{app}/{i % 3}") is not None
    print("done", flush=True)
""")


def test_two_processes_open_a_new_database_and_write_at_once(target: str, tmp_path: Path) -> None:
    """Two promoter processes on one brand-new database: both create-or-find the schema, then
    write concurrently without "database is locked"."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, target, app, str(go)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for app in ("alpha", "beta")]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and out.strip() == "done"
    with open_journal(target) as j:
        assert len(j.recent(app="alpha", limit=1000)) == len(j.recent(app="beta", limit=1000)) == 60
        assert j.pr_number("shared", "prod") == 59
        assert j.schema_version() == SCHEMA_VERSION
    engine = raw(target)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(text("schema_version"))) == 1
    engine.dispose()


# --- SQLite specifics ---------------------------------------------------------------------

def test_sqlite_paths_urls_and_pragmas(tmp_path: Path) -> None:
    with open_journal("nested/dir/journal.db", base_dir=tmp_path) as j:
        j.record_pr("shop", "prod", 1)
        assert j.name == f"sqlite+pysqlite:///{tmp_path}/nested/dir/journal.db"
    assert (tmp_path / "nested" / "dir" / "journal.db").is_file()
    with open_journal(f"sqlite:///{tmp_path}/nested/dir/journal.db") as j:
        assert j.pr_number("shop", "prod") == 1
    with open_journal("sqlite:///rel.db", base_dir=tmp_path) as j:
        assert j.name == f"sqlite:///{tmp_path}/rel.db"
    with sqlite3.connect(tmp_path / "nested" / "dir" / "journal.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    for memory_target in ("sqlite://", ":memory:"):  # in memory: for tools and tests, one transaction at a time
        with open_journal(memory_target) as memory:
            memory.record_tags("img", {"1": None})
            assert memory.seen_tags("img") == {"1": None}
    assert not (Path.cwd() / ":memory:").exists()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(JournalError, match="cannot create its directory"):
        open_journal("a-file/journal.db", base_dir=tmp_path)


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with open_journal(str(tmp_path / "j.db"), busy_timeout=2.5) as j:
        with j._engine.connect() as conn:  # the settings live on each connection
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_locked_beyond_the_timeout_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with open_journal(str(path), busy_timeout=0.2) as j:
        j.record_pr("shop", "prod", 1)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing for a long time
        try:
            with pytest.raises(JournalUnavailable) as caught:
                j.record_pr("shop", "prod", 2)
            assert j.pr_number("shop", "prod") == 1  # readers are not blocked (WAL)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert isinstance(caught.value, TransientError)
        assert str(path) in str(caught.value) and "locked" in str(caught.value)
        j.record_pr("shop", "prod", 2)
        assert j.pr_number("shop", "prod") == 2


# --- PostgreSQL specifics and secrets -----------------------------------------------------

def test_a_plain_postgresql_url_uses_psycopg_3(postgres: PostgresServer) -> None:
    with open_journal(postgres.url(postgres.create_database())) as j:
        assert j.name.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert j._engine.dialect.driver == "psycopg"


def assert_secret_kept(secret: str, exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:  # the whole chain, even what `from None` hides
        texts += [str(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    for record in caplog.records:
        texts += [record.getMessage(), logging.Formatter().format(record)]
    assert not [t for t in texts if secret in t]


def test_passwords_never_leak(postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy keeps its own at WARNING
    database = postgres.create_database(owner=SECRET_ROLE)

    wrong = "Wr0ng-pass-w0rd-xyzzy"
    with pytest.raises(JournalUnavailable) as caught:
        open_journal(postgres.url(database, user=SECRET_ROLE, password=wrong))
    assert f"{SECRET_ROLE}:***@127.0.0.1" in str(caught.value) and "password authentication failed" in str(
        caught.value)
    assert_secret_kept(wrong, caught.value, caplog)

    with pytest.raises(JournalUnavailable) as caught:  # nothing listens there
        open_journal(f"postgresql://{SECRET_ROLE}:{wrong}@127.0.0.1:1/{database}")
    assert_secret_kept(wrong, caught.value, caplog)

    with pytest.raises(JournalError) as refused:  # not even a URL
        open_journal(f"postgresql://{SECRET_ROLE}:{wrong}@127.0.0.1:port/{database}")
    assert_secret_kept(wrong, refused.value, caplog)

    with open_journal(postgres.url(database, user=SECRET_ROLE, password=SECRET_PASSWORD)) as j:
        j.record_pr("shop", "prod", 5)
        assert j.pr_number("shop", "prod") == 5
        assert SECRET_PASSWORD not in repr(j) and "***" in j.name
        postgres.execute(f"ALTER ROLE {SECRET_ROLE} NOLOGIN")
        try:
            postgres.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{SECRET_ROLE}'")
            with pytest.raises(JournalUnavailable) as caught:  # the database went away under a running service
                j.pr_number("shop", "prod")
        finally:
            postgres.execute(f"ALTER ROLE {SECRET_ROLE} LOGIN")
        assert_secret_kept(SECRET_PASSWORD, caught.value, caplog)
    assert caplog.records  # the check above looked at something
