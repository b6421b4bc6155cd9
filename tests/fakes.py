"""In-memory fakes of the ports, for workflow tests. They behave like the real adapters
(same return types, same errors), not like mocks that echo what a test told them."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_promoter.domain.analysis_run import AnalysisRun
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import GitRejected, RegistryRejected
from gitops_promoter.ports import Change, Committed, Recorded, Unchanged


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

    def created(self, image, tag):
        self.calls.append(f"created {image}:{tag}")
        return next(t.created for t in self._tags(image) if t.name == tag)

    def digest(self, image, tag):
        self.calls.append(f"digest {image}:{tag}")
        for t in self.images.get(image, []):
            if t.name == tag:
                return t.digest or "sha256:" + (tag.encode().hex() * 64)[:64]
        raise RegistryRejected(registry=image, repository=image, status=404, detail=f"no tag {tag}")


@dataclass
class MemoryRepo:
    name: str
    files: dict[str, str]
    commits: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    branch: str = "main"

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
        self.files.update({path: text for path, (_, text) in texts.items()})
        self.commits.append((change.path, change.message))
        return Committed(sha=f"{len(self.commits):x}".ljust(40, "0"), attempts=1)


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


def run_all(config, *, registry, repos, journal=None, apps=None, envs=None, mode="run", force=None,
            clock=None, **ports):
    """Reconcile every (selected) app once with these ports, as one `run --once` round does."""
    from gitops_promoter.workflows.reconcile import Ports, reconcile

    extra = {"clock": clock} if clock is not None else {}
    p = Ports(registry=registry, repos=repos, journal=journal if journal is not None else MemoryJournal(),
              **ports, **extra)
    return [o for app in config.apps if apps is None or app.name in apps
            for o in reconcile(config, app, p, mode=mode, envs=envs, force=force).outcomes]
