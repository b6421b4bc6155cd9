"""`check-config` looks into the deployment repositories: each canary's AnalysisTemplates and
Rollout steps, read ahead of time, without network and without writing.

A repository is read where it already is: a local repository (a path or a `file://` URL, bare or
not) at `refs/heads/<branch>`, else the promoter's persistent clone in the workdir
(`<workdir>/<name>`, bare) at `refs/remotes/origin/<branch>`, as last fetched. Only objects are
read (`git cat-file`, `git log`), so a service holding the workdir lock is never disturbed. A
repository that cannot be read here is a note: the canary reads its files anyway when it runs,
and a template before its gate starts.

The templates are held to the rules the canary applies (`domain.analysis.metrics_from_template`,
with the same source and `canary.gate_window`), so a problem carries its `file:line:col`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gitops_promoter.adapters import gitlog
from gitops_promoter.adapters.gitcmd import GIT_LOCATION
from gitops_promoter.config.schema import AnalysisConfig, AppConfig, CanaryConfig, Config, RepositoryConfig
from gitops_promoter.domain.analysis import TemplateError, metrics_from_template
from gitops_promoter.domain.history import Commit
from gitops_promoter.domain.rollout import Step, canary_steps
from gitops_promoter.errors import EditError
from gitops_promoter.runtime.wiring import workdir_for

GIT_TIMEOUT = 30.0  # seconds for one local read; nothing here talks to a remote


@dataclass(frozen=True)
class Findings:
    """What `check-config` found in the repositories. `problems` fail the check; `warnings` are
    likely mistakes; `notes` say what could not be checked here. Each is one line naming the place."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def check_repositories(config: Config, *, workdir: str | None = None) -> Findings:
    """Every app with `canary`, every environment whose target has a rollout: its Rollout steps
    and its AnalysisTemplates (`canary.analysis` and each of `canary.gates`), where readable."""
    root = workdir_for(config, workdir)
    sources: dict[str, _Source] = {}
    found = _Found()
    for app in config.apps:
        repo = config.repositories.get(app.repository)
        if app.canary is None or repo is None:
            continue
        for env, target in app.targets.items():
            if not target.rollout:
                continue
            source = sources.get(repo.name)
            if source is None:
                source = sources[repo.name] = _Source.open(repo, root)
            if source.broken:
                found.problems.append(source.broken)
                continue
            _check_target(found, source, app, app.canary, env, target.steps_file)
    if config.server.status_token is None and not _loopback(config.server.listen):
        found.warnings.append(f"server.listen {config.server.listen} is not a loopback address and "
                              "server.status_token is not set: the status page will be refused (403) there")
    return Findings(problems=_unique(found.problems), warnings=_unique(found.warnings), notes=_unique(found.notes))


def _loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass
class _Found:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_target(found: _Found, source: _Source, app: AppConfig, canary: CanaryConfig, env: str,
                  steps_file: str) -> None:
    where = f"app {app.name}, environment {env}"
    text = _read(found, source, steps_file, f"{where}, the Rollout's steps", later="when the canary runs")
    steps = None
    if text is not None:
        try:
            steps = canary_steps(text, source=f"{source.name}:{steps_file}")
        except EditError as exc:
            found.problems.append(str(exc))
    if steps is not None:
        passed = _passed_gates(source, steps, app=app.name, env=env, duration=canary.gate_duration)
        _check_steps(found, f"{source.name}:{steps_file}", steps, canary, where, passed=passed)
    for key, analysis in _analyses(canary):
        if analysis.template is None:
            continue
        path = analysis.template.replace("{env}", env)
        text = _read(found, source, path, f"{where}, canary.{key}.template", later="before the gate starts")
        if text is None:
            continue
        try:
            metrics_from_template(text, source=f"{source.name}:{path}", gate_window=canary.gate_window)
        except TemplateError as exc:
            found.problems.extend(exc.problems)
        except ValueError as exc:
            found.problems.append(f"{source.name}:{path}: {exc}")


def _analyses(canary: CanaryConfig) -> Iterator[tuple[str, AnalysisConfig]]:
    if canary.analysis is not None:
        yield "analysis", canary.analysis
    for step, analysis in sorted(canary.gates.items()):
        yield f"gates.{step}.analysis", analysis


def _passed_gates(source: _Source, steps: list[Step], *, app: str, env: str, duration: str) -> frozenset[int]:
    """Steps that are gates the promoter passed: a timed pause of exactly `canary.gate_duration` at
    a step its `Promoter-Action: advance` commits name (it stays so until the gate is armed again)."""
    timed = {s.index for s in steps if s.kind == "pause" and s.duration == duration}
    return frozenset(timed & source.advanced_steps(app=app, env=env)) if timed else frozenset()


def _check_steps(found: _Found, place: str, steps: list[Step], canary: CanaryConfig, where: str, *,
                 passed: frozenset[int]) -> None:
    gates = sorted({s.index for s in steps if s.is_gate} | passed)
    if not gates:
        timed = [f"step {s.index} pause {_with_unit(s.duration)}" for s in steps
                 if s.kind == "pause" and s.duration is not None]
        pauses = f"timed pauses: {', '.join(timed)}" if timed else "no pause steps"
        found.warnings.append(f"{place}: nothing to analyse ({where}): the Rollout has no pause: {{}} step "
                              f"(a gate); {pauses}")
    for step in sorted(canary.gates):
        if step not in gates:
            what = (f"does not exist (the Rollout has {len(steps)} steps)" if step >= len(steps)
                    else f"is a {_describe(steps[step])} step, not pause: {{}}")
            found.warnings.append(f"{place}: step {step} {what} ({where}): the analysis in canary.gates.{step} "
                                  "never runs")
    unanalysed = [g for g in gates if g not in canary.gates]
    if canary.analysis is None and unanalysed:
        listed = ", ".join(map(str, unanalysed))
        found.problems.append(f"{place}: gate(s) at step {listed} have no analysis ({where}): give canary.analysis "
                              "or canary.gates.<step>.analysis; a gate never passes without one")


def _describe(step: Step) -> str:
    if step.kind == "pause" and step.duration is not None:
        return f"timed pause ({_with_unit(step.duration)})"
    return step.kind


def _with_unit(duration: str | None) -> str:
    """A pause's duration as written, with Argo's unit for a bare number (seconds)."""
    text = (duration or "").strip()
    return f"{text}s" if text.isdigit() else text


def _read(found: _Found, source: _Source, path: str, what: str, *, later: str) -> str | None:
    """The file's text at the source's commit; None after saying why it cannot be read (`later`:
    when the promoter checks it anyway)."""
    why = source.why_not
    if source.commit is not None:
        try:
            return source.read(path)
        except _Bad as exc:
            found.problems.append(f"{source.name}:{path}: {exc}; named by {what}")
            return None
        except _Unreadable as exc:
            why = str(exc)
    found.notes.append(f"cannot read {path} of repository {source.name} ahead of time ({why}); it is checked {later}")
    return None


class _Bad(Exception):
    """The file is not on the branch, or not text (a problem of the config or of the repository)."""


class _Unreadable(Exception):
    """git could not be asked here (not installed, a repository it refuses): nothing to conclude."""


@dataclass(frozen=True)
class _Source:
    """Where a repository's branch can be read here: a git folder and the commit its branch is at."""

    name: str
    branch: str
    git_dir: Path | None = None
    commit: str | None = None
    label: str = ""  # for messages: which copy was read
    why_not: str = ""  # when commit is None
    broken: str | None = None  # a local repository without the configured branch: a problem
    _advances: dict[str, frozenset[tuple[str, str, int]]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def open(cls, repo: RepositoryConfig, workdir: Path) -> _Source:
        try:
            return cls._open(repo, workdir)
        except _Unreadable as exc:
            return cls(repo.name, repo.branch, why_not=str(exc))

    @classmethod
    def _open(cls, repo: RepositoryConfig, workdir: Path) -> _Source:
        clone = workdir / repo.name
        local = _local_path(repo.url, base=clone)
        reasons = []
        if local is not None:
            folder = next((p for p in (local, Path(f"{local}.git")) if p.is_dir()), None)
            if folder is None:
                reasons.append(f"{local} does not exist here")
            elif (why := _not_a_repository(folder)) is not None:
                reasons.append(why)
            else:
                commit = _commit(folder, f"refs/heads/{repo.branch}")
                if commit is None:
                    return cls(repo.name, repo.branch, why_not="no such branch",
                               broken=f"repository {repo.name}: branch {repo.branch} does not exist in {folder}")
                return cls(repo.name, repo.branch, folder, commit, label=str(folder))
        else:
            reasons.append("not local")
        origin = _origin(clone) if clone.is_dir() and _not_a_repository(clone) is None else None
        if origin is None:
            reasons.append("no clone yet")
        elif origin != repo.url:
            reasons.append(f"the clone in {clone} is of {origin}, not of {repo.url}")
        else:
            commit = _commit(clone, f"refs/remotes/origin/{repo.branch}")
            if commit is not None:
                return cls(repo.name, repo.branch, clone, commit, label=f"the promoter's clone {clone}, as last "
                                                                        "fetched")
            reasons.append(f"the clone in {clone} has not fetched {repo.branch} yet")
        return cls(repo.name, repo.branch, why_not=", ".join(reasons))

    def advanced_steps(self, *, app: str, env: str) -> frozenset[int]:
        """Steps the promoter's advance commits on the branch name for `app` in `env` (the branch's
        history is read once, on first use)."""
        if "all" not in self._advances:
            self._advances["all"] = self._read_advances()
        return frozenset(step for a, e, step in self._advances["all"] if (a, e) == (app, env))

    def _read_advances(self) -> frozenset[tuple[str, str, int]]:
        if self.git_dir is None or self.commit is None:
            return frozenset()
        try:
            out = _git(self.git_dir, "log", "-n", "20000", *gitlog.FORMAT, "-F",
                       "--grep=Promoter-Action: advance", self.commit).out
        except _Unreadable:
            return frozenset()
        found = set()
        for sha, message in gitlog.records((out or b"").decode("utf-8", errors="replace")):
            t = Commit(sha, "", message).trailers
            if t.get("Promoter-Action") == "advance" and t.get("Promoter-Step", "").isdigit():
                found.add((t.get("Promoter-App", ""), t.get("Promoter-Env", ""), int(t["Promoter-Step"])))
        return frozenset(found)

    def read(self, path: str) -> str:
        assert self.git_dir is not None and self.commit is not None
        kind = _git(self.git_dir, "cat-file", "-t", f"{self.commit}:{path}").out
        if kind is None:
            raise _Bad(f"no such file on branch {self.branch} of {self.label}")
        if kind.decode().strip() != "blob":
            raise _Bad(f"not a file on branch {self.branch} of {self.label}")
        blob = _git(self.git_dir, "cat-file", "blob", f"{self.commit}:{path}")
        if blob.out is None:
            raise _Unreadable(f"git cat-file in {self.git_dir}: {blob.err}")
        raw = blob.out
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(f"not UTF-8 text on branch {self.branch} of {self.label}") from None


def _local_path(url: str, *, base: Path) -> Path | None:
    """The folder a repository URL names on this machine, or None for a remote one. As git reads
    URLs: `file://` is local, as is anything with no scheme that is not scp-like (`host:path`);
    a relative path is taken from the clone's folder, where the promoter's `git fetch` runs."""
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" in url or ":" in url.split("/", 1)[0]:
        return None
    path = Path(url).expanduser()
    return path if path.is_absolute() else base / path


def _not_a_repository(folder: Path) -> str | None:
    """Why git does not read `folder` as a repository (git's own words), or None when it does."""
    probe = _git(folder, "rev-parse", "--git-dir")
    return None if probe.out is not None else f"{folder}: {probe.err or 'not a git repository'}"


def _commit(folder: Path, ref: str) -> str | None:
    out = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").out
    return out.decode().strip() if out else None


def _origin(folder: Path) -> str | None:
    out = _git(folder, "config", "--get", "remote.origin.url").out
    return out.decode().strip() if out else None


@dataclass(frozen=True)
class _Out:
    out: bytes | None  # stdout when git succeeded, else None
    err: str = ""  # git's stderr, on one line


def _git(folder: Path, *args: str) -> _Out:
    """A read-only git command in `folder` (and never in a repository above it); _Unreadable when
    git cannot be run at all."""
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION}  # never a repository other than -C's
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0",
                "GIT_CEILING_DIRECTORIES": str(folder.resolve().parent)})
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, env=env, timeout=GIT_TIMEOUT,
                              check=False)
    except OSError as exc:
        raise _Unreadable(f"cannot run git: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise _Unreadable(f"git {args[0]} in {folder} took more than {GIT_TIMEOUT:g}s") from None
    err = " ".join(done.stderr.decode("utf-8", errors="replace").split())
    return _Out(done.stdout if done.returncode == 0 else None, err)


def _unique(lines: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(lines))
