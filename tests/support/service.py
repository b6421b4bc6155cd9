"""The promoter's long-running service as a real subprocess, and a several-app world around it.

* `ServiceProcess`: `python -m gitops_promoter.cli run --config FILE` with the webhook secret in its
  environment and stderr appended to a log file; `start()` waits for `/readyz` 200, `stop()` sends
  SIGTERM and asserts exit 0 (returns how long it took), `kill()` sends SIGKILL.
* `CrashWorld`: one real docker-registry whose notifications go to the service, one bare
  deployment remote holding a Deployment per app (all `dev`, direct), the O&M config, and an
  audit of the remote's history (duplicated bumps, empty commits, bumps touching another file).

Shared by tests/e2e/test_crash.py and the crash and latency benchmarks.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.gitremote import git, make_remote
from tests.support.net import free_port
from tests.support.registry import Pusher, RegistryServer

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET_ENV = "PROMOTER_HOOK_SECRET"


class ServiceDied(AssertionError):
    """The service exited on its own (or never became ready); carries the tail of its log."""


class ServiceProcess:
    """One `gitops-promoter run` (the service) at a time for a config; restartable."""

    def __init__(self, config: Path, *, port: int, secret: str, log: Path, env: dict[str, str] | None = None,
                 log_level: str = "info") -> None:
        self.config, self.port, self.secret, self.log = config, port, secret, log
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), SECRET_ENV: secret, **(env or {})}
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> float:
        """Start the service; with `wait`, block until /readyz answers 200. Returns the seconds taken."""
        assert not self.running, "the service is already running"
        self.starts += 1
        started = time.monotonic()
        with open(self.log, "ab") as fh:
            fh.write(f"--- start #{self.starts} at {time.strftime('%H:%M:%S')} ---\n".encode())
            fh.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitops_promoter.cli", "--log-level", self.log_level, "run", "--config",
                 str(self.config)],
                cwd=self.config.parent, env=self.env, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh)
        if wait:
            self.wait_ready(timeout=timeout)
        return time.monotonic() - started

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise ServiceDied(f"the service exited with {self.proc and self.proc.returncode} before it was "
                                  f"ready:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.02)
        raise ServiceDied(f"/readyz not 200 after {timeout}s:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 10.0) -> float:
        """SIGTERM; the service must exit 0 within `timeout` seconds. Returns the seconds it took."""
        assert self.proc is not None and self.running, "the service is not running"
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the service did not stop within {timeout}s of SIGTERM:\n{self.log_tail()}") \
                from None
        took = time.monotonic() - started
        assert code == 0, f"the service exited {code} on SIGTERM:\n{self.log_tail()}"
        return took

    def kill(self) -> None:
        """SIGKILL the service process (only it: git commands it started may outlive it, as they do
        when a kernel's OOM killer or `kill -9` picks the service)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.running:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def run_once(config: Path, *, env: dict[str, str] | None = None,
             timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """`gitops-promoter run --once --config FILE`, as a cron job would run it."""
    return subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "run", "--once", "--config", str(config)],
                          cwd=config.parent, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


# --- a world with several apps ----------------------------------------------------------------

DEPLOYMENT = """\
# {app} in dev: Argo CD syncs this file; the promoter edits the image.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
        - name: {app}
          image: "{image}:v1.0.0"   # pinned by the promoter
          ports:
            - containerPort: 8080
        - name: sidecar
          image: envoyproxy/envoy:v1.29.1
"""


@dataclass
class Audit:
    """What the remote's history says, against what one uninterrupted service would have written."""

    commits: int = 0
    bumps: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (app, env, tag) → bump commits
    empty: list[str] = field(default_factory=list)  # commits whose tree equals their parent's
    strays: list[str] = field(default_factory=list)  # bumps that touch another file, or name another tag
    foreign: list[str] = field(default_factory=list)  # commits that are neither the seed nor the promoter's

    @property
    def duplicated(self) -> dict[tuple[str, str, str], int]:
        return {k: n for k, n in self.bumps.items() if n > 1}


class CrashWorld:
    """`apps` apps, each its own image repository in one registry, all in one deployment repo."""

    def __init__(self, root: Path, *, apps: int = 4, namespace: str = "crash", poll_interval: str = "1s",
                 secret: str = "crash-hook-s3cret", log_level: str = "info") -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.secret = secret
        self.registry = RegistryServer(notify=(f"http://127.0.0.1:{self.port}/hooks/registry", secret)).start()
        try:
            self._build(namespace, apps, poll_interval, log_level)
        except BaseException:
            self.registry.stop()
            raise

    def _build(self, namespace: str, apps: int, poll_interval: str, log_level: str) -> None:
        root = self.root
        self.apps = [f"app{i}" for i in range(apps)]
        self.images = {a: f"{self.registry.host}/{namespace}/{a}" for a in self.apps}
        self.repos = {a: f"{namespace}/{a}" for a in self.apps}
        self.files = {a: f"envs/dev/{a}/deployment.yaml" for a in self.apps}
        self.pusher = Pusher(self.registry.url)
        self.pushed: dict[str, list[str]] = {a: ["v1.0.0"] for a in self.apps}
        self._verified: set[str] = set()  # bump commits whose file was checked already
        self.rounds = 0  # trial n pushes v1.<n>.0
        self.known: set[str] = set()  # problems a test has seen already (see tests/e2e/test_crash.py)
        for a in self.apps:
            self.pusher.image(self.repos[a], "v1.0.0", created="2026-11-01T00:00:00Z")
        seed = root / "seed"
        for a in self.apps:
            path = seed / self.files[a]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(DEPLOYMENT.format(app=a, image=self.images[a]))
        self.remote = make_remote(root, seed)
        self.config = root / "promoter.yaml"
        self.config.write_text(self._config(poll_interval))
        self.workdir = root / "work"
        self.clone = self.workdir / "deploy"
        self.service = ServiceProcess(self.config, port=self.port, secret=self.secret, log=root / "service.log",
                                      log_level=log_level)

    def _config(self, poll_interval: str) -> str:
        apps = "".join(
            f"  - name: {a}\n    image: {self.images[a]}\n    repository: deploy\n"
            f"    policy: {{strategy: semver, constraint: \"^1.0\"}}\n"
            f"    targets:\n      dev: {{file: {self.files[a]}, edit: {{kind: container, container: {a}}}}}\n"
            for a in self.apps)
        return (f"version: 1\nregistries:\n  - prefix: {self.registry.host}\n    api_url: {self.registry.url}\n"
                f"repositories:\n  - name: deploy\n    url: file://{self.remote}\n    branch: main\n"
                "    author: {name: gitops-promoter, email: promoter@acme.example}\n"
                "environments:\n  - name: dev\n    mode: direct\n"
                f"apps:\n{apps}"
                f"server:\n  listen: 127.0.0.1:{self.port}\n  registry_webhook_secret: env:{SECRET_ENV}\n"
                f"state:\n  workdir: work\n  journal: journal.sqlite\n  poll_interval: {poll_interval}\n"
                "  lock_timeout: 20s\n")

    def close(self) -> None:
        self.service.close()
        self.registry.stop()

    # --- registry side ----------------------------------------------------------------------
    def push(self, app: str, tag: str) -> None:
        self.pusher.image(self.repos[app], tag, created="2026-11-24T00:00:00Z")
        self.pushed[app].append(tag)

    def next_round(self) -> int:
        self.rounds += 1
        return self.rounds

    def newest(self, app: str) -> str:
        return self.pushed[app][-1]

    # --- the remote ---------------------------------------------------------------------------
    def head(self) -> str:
        return git("rev-parse", "main", cwd=self.remote)

    def commits(self) -> int:
        return int(git("rev-list", "--count", "main", cwd=self.remote))

    def live(self) -> dict[str, str]:
        """Each app's tag as its dev file names it at the remote's head."""
        out = {}
        for a in self.apps:
            text = git("show", f"main:{self.files[a]}", cwd=self.remote)
            marker = f'image: "{self.images[a]}:'
            start = text.index(marker) + len(marker)
            out[a] = text[start:text.index('"', start)]
        return out

    def settled(self) -> bool:
        live = self.live()
        return all(live[a] == self.newest(a) for a in self.apps)

    def wait_settled(self, *, timeout: float = 20.0, poll: float = 0.01) -> float | None:
        """Seconds until every app's dev file names its newest tag (None on timeout)."""
        started = time.monotonic()
        seen = None
        while time.monotonic() - started < timeout:
            if self.service.proc is not None and not self.service.running:
                raise ServiceDied(f"the service exited with {self.service.proc.returncode}:\n"
                                  f"{self.service.log_tail()}")
            head = self.head()
            if head != seen:
                seen = head
                if self.settled():
                    return time.monotonic() - started
            time.sleep(poll)
        return None

    def lost(self) -> list[str]:
        """Apps whose dev file does not name their newest tag."""
        live = self.live()
        return [f"{a} at {live[a]}, not {self.newest(a)}" for a in self.apps if live[a] != self.newest(a)]

    def expected_bumps(self) -> Counter[tuple[str, str, str]]:
        """What one uninterrupted service writes when every pushed tag went live in turn: one bump each."""
        return Counter({(a, "dev", tag): 1 for a in self.apps for tag in self.pushed[a][1:]})

    def problems(self, audit: Audit | None = None) -> list[str]:
        """Every way the remote differs from one uninterrupted run: duplicated or missing bumps,
        empty commits, bumps touching the wrong file, commits that are not the promoter's."""
        audit = audit or self.audit()
        out = [f"duplicated: {app}/{env} {tag} bumped {n} times" for (app, env, tag), n in
               sorted(audit.duplicated.items())]
        out += [f"lost: {app}/{env} {tag} never bumped" for (app, env, tag) in sorted(self.expected_bumps())
                if audit.bumps[(app, env, tag)] == 0]
        out += [f"unexpected bump: {app}/{env} {tag}" for (app, env, tag) in sorted(audit.bumps)
                if (app, env, tag) not in self.expected_bumps()]
        out += [f"empty commit {sha[:10]}" for sha in audit.empty]
        out += [f"stray: {s}" for s in audit.strays]
        out += [f"foreign commit {sha[:10]}" for sha in audit.foreign]
        return out

    def audit(self) -> Audit:
        """One `git log` over the whole branch: trailers, trees and the files each commit touches."""
        # NUL and STX separators: git() strips its output, and str.strip() eats \x1c-\x1f
        out = git("log", "--format=%x00%H%x02%T%x02%P%x02%B%x02", "--name-only", "main", cwd=self.remote)
        trees: dict[str, str] = {}
        records = []
        for record in out.split("\x00")[1:]:
            sha, tree, parents, body, names = record.split("\x02")
            trees[sha] = tree
            records.append((sha, tree, parents.split(), body, [n for n in names.split("\n") if n.strip()]))
        audit = Audit(commits=len(records))
        for sha, tree, parents, body, names in records:
            trailers = dict(line.split(": ", 1) for line in body.splitlines() if line.startswith("Promoter-"))
            if parents and all(trees.get(p) == tree for p in parents):
                audit.empty.append(sha)
            if not parents:
                continue  # the seed
            if "Promoter-App" not in trailers:
                audit.foreign.append(sha)
                continue
            app, env, tag = trailers["Promoter-App"], trailers.get("Promoter-Env", ""), trailers.get("Promoter-Tag", "")
            if trailers.get("Promoter-Action") == "bump":
                audit.bumps[(app, env, tag)] += 1
                if names != [self.files.get(app)]:
                    audit.strays.append(f"{sha[:10]} {app} {tag} touches {names}")
                elif sha not in self._verified:
                    text = git("show", f"{sha}:{self.files[app]}", cwd=self.remote)
                    if f"{self.images[app]}:{tag}\"" not in text:
                        audit.strays.append(f"{sha[:10]} {app} says {tag} but the file does not")
                    else:
                        self._verified.add(sha)
        return audit


# --- one crash trial ------------------------------------------------------------------------

@dataclass
class Trial:
    number: int
    apps: list[str]
    delay: float  # seconds between the last push and the SIGKILL
    committed_before_kill: int  # commits the killed service had pushed (all bumps, or the audit says so)
    settled: float | None  # seconds from the SIGKILL to every app on its newest tag (None: timed out)
    restart: float  # seconds from the SIGKILL to /readyz 200 of the new service
    lost: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.settled is not None and not self.lost and not self.problems

    def describe(self) -> str:
        state = "ok" if self.ok else f"FAILED: {'; '.join(self.lost + self.problems) or 'did not settle'}"
        settled = "never" if self.settled is None else f"{self.settled:.2f}s"
        return (f"trial {self.number}: pushed {', '.join(self.apps)}; SIGKILL {self.delay * 1000:.0f} ms later "
                f"({self.committed_before_kill} bump(s) already pushed); ready {self.restart:.2f}s, settled "
                f"{settled} after the kill; {state}")


def crash_trial(world: CrashWorld, rng: random.Random, *, max_delay: float = 0.3, settle_timeout: float = 20.0,
                apps: list[str] | None = None, delay: float | None = None,
                while_down: Callable[[], None] | None = None) -> Trial:
    """Push a new tag `v1.<n>.0` for several apps (random, or `apps`), SIGKILL the service
    0–`max_delay` s later (random, or `delay`), run `while_down` (to leave leftovers on purpose),
    restart it and wait until every app names its newest tag; then audit the whole history."""
    number = world.next_round()
    apps = apps or sorted(rng.sample(world.apps, rng.randint(2, len(world.apps))))
    delay = rng.uniform(0.0, max_delay) if delay is None else delay
    before = world.commits()
    for app in apps:
        world.push(app, f"v1.{number}.0")
    time.sleep(delay)
    world.service.kill()
    killed = time.monotonic()
    committed = world.commits() - before
    if while_down is not None:
        while_down()
    world.service.start()
    restart = time.monotonic() - killed
    waited = world.wait_settled(timeout=settle_timeout)
    settled = None if waited is None else time.monotonic() - killed
    return Trial(number, apps, delay, committed, settled, restart, world.lost(), world.problems())
