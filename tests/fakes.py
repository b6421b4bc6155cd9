"""In-memory fakes of the ports, for workflow tests. They behave like the real adapters
(same return types, same errors), not like mocks that echo what a test told them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from gitops_promoter.domain.analysis_run import AnalysisRun
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import CodeHostRejected, GitRejected, RegistryRejected
from gitops_promoter.ports import Change, Committed, PullRequest, PushRefused, Recorded, Unchanged


@dataclass
class MemoryRegistry:
    images: dict[str, list[TagInfo]] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _tags(self, image):
        if image in self.failures:
            raise self.failures[image]
        if image not in self.images:
            host, _, repository = image.partition("/")
            raise RegistryRejected(registry=host, repository=repository, status=404, detail="NAME_UNKNOWN")
        return self.images[image]

    def list_tags(self, image):
        self.calls.append(f"list {image}")
        return [t.name for t in self._tags(image)]

    def created(self, image, tag, *, platform=None):
        self.calls.append(f"created {image}:{tag}" + (f" {platform}" if platform else ""))
        return next(t.created for t in self._tags(image) if t.name == tag)

    def digest(self, image, tag):
        self.calls.append(f"digest {image}:{tag}")
        for t in self.images.get(image, []):
            if t.name == tag:
                return t.digest or "sha256:" + (tag.encode().hex() * 64)[:64]
        raise RegistryRejected(registry=image, repository=image, status=404, detail=f"no tag {tag}")


@dataclass(frozen=True)
class MemoryBranch:
    """A promoter-owned branch: its head commit, that commit's message, every file there, and the
    commits it reverts."""

    sha: str
    message: str
    files: dict[str, str]
    reverts: tuple[str, ...]


@dataclass
class MemoryRepo:
    """The DeployRepo port in memory. `commits` is the branch's history, oldest first (tests may
    append to it: a person's commit); `changes` what each commit made through the port changed,
    so it can be reverted. With `refuse` set, the remote refuses pushes to `branch` as a protected
    branch does, saying that. A revert needs every file it touches to read exactly what the
    reverted commit left (git's three-way apply is a little kinder: it only needs the lines)."""

    name: str
    files: dict[str, str]
    commits: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    branch: str = "main"
    refuse: str | None = None
    changes: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # sha → path → (before, after)
    branches: dict[str, MemoryBranch] = field(default_factory=dict)  # promoter-owned branches
    pushes: list[str] = field(default_factory=list)  # every ref a push updated, in order
    now: float = 0.0  # the committer time of the next commit (seconds since the epoch)
    times: dict[str, float] = field(default_factory=dict)  # sha → committer time

    def history(self, *, app, limit=500):
        from gitops_promoter.domain.history import Commit

        out = [Commit(f"{i + 1:x}".ljust(40, "0"), m.splitlines()[0], m) for i, (_, m) in enumerate(self.commits)]
        return [c for c in reversed(out) if f"Promoter-App: {app}" in c.message or c.reverts][:limit]

    def head(self):
        return f"{len(self.commits):x}".ljust(40, "0")

    def read(self, path):
        if path not in self.files:
            raise GitRejected(repository=self.name, detail=f"{path}: no such file on branch main")
        return self.files[path]

    def commit(self, change: Change, *, dry_run=False):
        texts = change.apply(self.read)
        before, after = texts[change.path]
        if dry_run:
            return before, after
        if after == before:
            return Unchanged(reason=f"{change.path} already says so")
        return self._push(change.path, {path: pair for path, pair in texts.items() if pair[0] != pair[1]},
                          change.message)

    def revert(self, commits, *, message):
        files = self._reverted(commits)
        return self._push(next(iter(files), ""), {p: (self.files[p], text) for p, text in files.items()}, message)

    def propose_revert(self, commits, *, message, branch):
        files = self._reverted(commits)
        existing = self.branches.get(branch)
        if existing is not None and existing.reverts == tuple(commits) and files and \
                all(existing.files.get(p) == text for p, text in files.items()):
            return Committed(sha=existing.sha, attempts=0)
        sha = hashlib.sha1(f"{branch}\n{message}\n{len(self.pushes)}".encode()).hexdigest()
        self.branches[branch] = MemoryBranch(sha, message, {**self.files, **files}, tuple(commits))
        self.pushes.append(branch)
        return Committed(sha=sha, attempts=1)

    def _reverted(self, commits):
        """The files (path → text) after undoing `commits` in turn on the head, as `git revert` does."""
        texts = dict(self.files)
        for sha in commits:
            change = self.changes.get(sha)
            if change is None or any(texts.get(path) != after for path, (_, after) in change.items()):
                raise GitRejected(repository=self.name,
                                  detail=f"cannot revert {sha[:10]} cleanly on {self.branch}: it does not apply")
            texts.update({path: before for path, (before, _) in change.items()})
        return {path: text for path, text in texts.items() if text != self.files.get(path)}

    def _push(self, path, change, message):
        if self.refuse is not None:
            raise PushRefused(repository=self.name, branch=self.branch, reason=self.refuse)
        self.files.update({p: after for p, (_, after) in change.items()})
        self.commits.append((path, message))
        self.pushes.append(self.branch)
        sha = self.head()
        self.changes[sha] = change
        self.times[sha] = self.now
        return Committed(sha=sha, attempts=1)

    def commit_time(self, sha):
        return self.times.get(sha)


@dataclass
class MemoryJournal:
    """The Journal port in memory (the SQL adapter has its own tests against SQLite and PostgreSQL)."""

    runs: dict[str, AnalysisRun] = field(default_factory=dict)
    tags: dict[str, dict[str, str | None]] = field(default_factory=dict)
    prs: dict[tuple[str, str], int] = field(default_factory=dict)
    rows: list[Recorded] = field(default_factory=list)

    def load_analysis(self, key):
        return self.runs.get(key)

    def save_analysis(self, run):
        self.runs[run.key] = run

    def drop_analysis(self, key):
        self.runs.pop(key, None)

    def seen_tags(self, image):
        return self.tags.get(image)

    def record_tags(self, image, tags):
        self.tags[image] = dict(tags)

    def pr_number(self, app, env):
        return self.prs.get((app, env))

    def record_pr(self, app, env, number):
        if number is None:
            self.prs.pop((app, env), None)
        else:
            self.prs[(app, env)] = number

    def record_outcomes(self, rows):
        self.rows.extend(rows)

    def recent(self, *, app=None, env=None, limit=50):
        found = [r for r in reversed(self.rows) if (app is None or r.app == app) and (env is None or r.env == env)]
        return found[:limit]

    def close(self):
        pass


class MemoryHost:
    """The CodeHost port in memory, answering as GitHub does where the workflows depend on it: one
    open pull request per head branch and base (a second one is a 422), the open ones of a base in
    one listing, a closed one saying who closed it. `calls` records every call."""

    def __init__(self, login="promoter-bot"):
        self.prs: dict[int, PullRequest] = {}
        self.calls: list[str] = []
        self.said: dict[int, list[str]] = {}
        self._login = login

    def login(self):
        return self._login

    def open_pulls(self, *, base):
        self.calls.append(f"open_pulls {base}")
        return [p for p in self.prs.values() if p.state == "open" and p.base_ref == base]

    def pulls(self, *, head_branch, state):
        self.calls.append(f"pulls {head_branch} {state}")
        return [p for p in self.prs.values() if p.head_ref == head_branch and state in ("all", p.state)]

    def pull(self, number):
        self.calls.append(f"pull #{number}")
        return self.prs[number]

    def create_pull(self, *, head_branch, base, title, body, labels):
        self.calls.append(f"create {head_branch}")
        if any(p.head_ref == head_branch and p.base_ref == base and p.state == "open" for p in self.prs.values()):
            raise CodeHostRejected(repository="acme/deploy", status=422,
                                   detail=f"A pull request already exists for acme:{head_branch}.")
        n = len(self.prs) + 1
        self.prs[n] = PullRequest(n, "open", False, head_branch, "h", base, title, body, self._login,
                                  f"https://github.example/acme/deploy/pull/{n}")
        return self.prs[n]

    def update_pull(self, number, *, title, body):
        self.calls.append(f"update #{number}")
        self.prs[number] = replace(self.prs[number], title=title, body=body)

    def close_pull(self, number):
        self.calls.append(f"close #{number}")
        self.prs[number] = replace(self.prs[number], state="closed", closed_by=self._login)

    def comments(self, number):
        return list(self.said.get(number, []))

    def comment(self, number, text):
        self.calls.append(f"comment #{number}")
        self.said.setdefault(number, []).append(text)


def run_all(config, *, registry, repos, journal=None, apps=None, envs=None, mode="run", force=None,
            clock=None, **ports):
    """Reconcile every (selected) app once with these ports, as one `run --once` round does."""
    from gitops_promoter.workflows.reconcile import Ports, reconcile

    extra = {"clock": clock} if clock is not None else {}
    p = Ports(registry=registry, repos=repos, journal=journal if journal is not None else MemoryJournal(),
              **ports, **extra)
    return [o for app in config.apps if apps is None or app.name in apps
            for o in reconcile(config, app, p, mode=mode, envs=envs, force=force).outcomes]
