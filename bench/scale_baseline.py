"""The batched-I/O baseline of the scale benchmark: the decisions of one `run --once` pass (which
app × environment would be bumped, proposed, updated, merged, closed, waited on or left alone),
made with the product's own config loader, registry client, GitHub adapter and domain functions,
but with the I/O batched as issue 11 asks of the product:

* git: one `git fetch` of the branch, one `git cat-file --batch` that pins the head and reads
  every target file at it, one `git log` of the promoter commits and reverts, its trailers parsed
  once into an index by app;
* registry: one `tags/list` (with its pages) per image repository, eight at a time;
* GitHub: the login, one paginated list of the repository's pull requests, and per promoter PR
  that could merge now its reviews (what deciding "waiting" or "merged" needs).

It writes nothing (no commit, no push, no pull request): it measures deciding. Within an app the
environments are walked in chain order and a decided bump is what the next environment sees,
as a pass of the product does after its commit.

`python -m bench.scale_baseline --config FILE --clone DIR [--setup]` prints one JSON object:
{"head": sha, "decisions": {"app/env": status}, "seconds": {...}, "git": processes}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.domain.approval import Rule, evaluate, teams_of
from gitops_promoter.domain.edits import Running, read_running
from gitops_promoter.domain.history import Commit, moved_back_by_hand, rejected_tags
from gitops_promoter.domain.plan import Bump, plan_bump
from gitops_promoter.domain.proposal import branch_name, parse_marker, plan_promotion
from gitops_promoter.domain.tags import TagInfo, is_valid_tag

GIT_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


class Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, what: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[what] = round(self.seconds.get(what, 0.0) + now - t0, 4)
        return now


class BatchedGit:
    """The baseline's own bare clone of one deployment repository."""

    def __init__(self, clone: Path, url: str, branch: str) -> None:
        self.clone, self.url, self.branch = clone, url, branch
        self.tracking = f"refs/remotes/origin/{branch}"
        self.processes = 0

    def _git(self, *args: str, data: bytes | None = None) -> bytes:
        self.processes += 1
        return subprocess.run(["git", *args], cwd=self.clone, input=data, capture_output=True, check=True,
                              env=GIT_ENV).stdout

    def setup(self) -> None:
        self.clone.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", str(self.clone)], check=True, env=GIT_ENV)
        subprocess.run(["git", "remote", "add", "origin", self.url], cwd=self.clone, check=True, env=GIT_ENV)
        self.fetch()

    def fetch(self) -> None:
        self._git("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{self.branch}:{self.tracking}")

    def read_pinned(self, paths: Sequence[str]) -> tuple[str, dict[str, str | None]]:
        """One `cat-file --batch`: the branch's head first (pinned), then every path at it."""
        self.processes += 1
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.clone, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=GIT_ENV)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{self.tracking}\n".encode())
        proc.stdin.flush()
        head = self._record(proc.stdout)[0]

        def feed() -> None:
            assert proc.stdin is not None
            proc.stdin.write("".join(f"{head}:{p}\n" for p in paths).encode())
            proc.stdin.close()

        writer = threading.Thread(target=feed)
        writer.start()
        texts: dict[str, str | None] = {}
        for p in paths:
            _, body = self._record(proc.stdout)
            texts[p] = None if body is None else body.decode()
        writer.join()
        proc.wait()
        return head, texts

    @staticmethod
    def _record(out: Any) -> tuple[str, bytes | None]:
        header = out.readline().decode().split()
        if len(header) != 3:  # "<name> missing"
            return header[0] if header else "", None
        sha, _, size = header
        body = out.read(int(size))
        out.read(1)
        return sha, body

    def history(self, head: str) -> list[Commit]:
        out = self._git("log", "--format=%H%x1f%s%x1f%B%x1e", "-F", "--grep=Promoter-App: ",
                        "--grep=This reverts commit", head).decode()
        commits = []
        for record in out.split("\x1e"):
            sha, _, rest = record.strip().partition("\x1f")
            subject, _, message = rest.partition("\x1f")
            if sha:
                commits.append(Commit(sha, subject, message))
        return commits


def index_by_app(commits: list[Commit]) -> dict[str, list[Commit]]:
    """Each app's promoter commits plus every revert, newest first; trailers parsed once."""
    out: dict[str, list[Commit]] = {}
    reverts_so_far: list[Commit] = []
    for c in commits:
        app = c.trailers.get("Promoter-App")
        if c.reverts:
            reverts_so_far.append(c)
            for lst in out.values():
                lst.append(c)
        elif app:
            out.setdefault(app, list(reverts_so_far)).append(c)
    return out


def decide(config: Config, *, clone: Path, host_factory: type[GitHubHost] = GitHubHost) -> dict[str, Any]:
    timer = Timer()
    t = time.perf_counter()
    (repo_cfg,) = config.repositories.values()
    git = BatchedGit(clone, repo_cfg.url, repo_cfg.branch)
    git.fetch()
    t = timer("git fetch", t)
    paths = sorted({target.file for app in config.apps for target in app.targets.values()})
    head, texts = git.read_pinned(paths)
    t = timer("git cat-file --batch", t)
    history = index_by_app(git.history(head))
    t = timer("git log + index", t)

    hub = RegistryHub(config.registry_for)
    images = sorted({app.image for app in config.apps})
    with ThreadPoolExecutor(8) as pool:
        listed = dict(zip(images, pool.map(hub.list_tags, images), strict=True))
    hub.close()
    tags = {image: [TagInfo(n) for n in names if is_valid_tag(n)] for image, names in listed.items()}
    t = timer("registry tags/list", t)

    host = None
    prs: dict[str, list[Any]] = {}
    bot = ""
    if repo_cfg.github is not None:
        host = host_factory(repo_cfg.github)
        bot = host.login()
        for p in host.repo.get_pulls(state="all"):  # one paginated list for the whole repository
            prs.setdefault(p.head.ref, []).append(p)
    t = timer("github list pulls", t)

    decisions: dict[str, str] = {}
    for app in config.apps:
        _decide_app(config, app, texts, history.get(app.name, []), tags[app.image], prs, host, bot, decisions)
    timer("decide (domain)", t)
    return {"head": head, "decisions": decisions, "seconds": timer.seconds, "git": git.processes}


def _decide_app(config: Config, app: AppConfig, texts: dict[str, str | None], history: list[Commit],
                tags: list[TagInfo], prs: dict[str, list[Any]], host: GitHubHost | None, bot: str,
                decisions: dict[str, str]) -> None:
    runs: dict[str, Running] = {}
    chain = list(config.environments)
    for index, env in enumerate(chain):
        target = app.targets.get(env.name)
        if target is None:
            continue
        key = f"{app.name}/{env.name}"
        text = texts[target.file]
        if text is None:
            decisions[key] = "error"
            continue
        running = read_running(text, target.edit, source=f"deploy:{target.file}")
        rejected = rejected_tags(history, app=app.name, env=env.name)
        rejected.update(moved_back_by_hand(history, app=app.name, env=env.name, running_tag=running.tag,
                                           policy=app.policy))
        if env.mode == "direct":
            plan = plan_bump(app=app.name, env=env.name, policy=app.policy, running=running, candidates=tags,
                             rejected=rejected)
            if isinstance(plan, Bump):
                decisions[key] = "bumped"
                running = Running(running.name, plan.tag, plan.digest)
            else:
                decisions[key] = "unchanged"
            runs[env.name] = running
            continue
        source = chain[index - 1].name
        candidate = runs[source]
        mine = prs.get(branch_name(env.name, app.name), [])
        open_pr = next((p for p in mine if p.state == "open"), None)
        for p in mine:  # a person closed a PR of the candidate unmerged: rejected here (as the product)
            facts = parse_marker(p.body)
            if p.state == "closed" and p.merged_at is None and facts and facts.get("tag") == candidate.tag \
                    and host is not None:
                closed_by = host.pull(p.number).closed_by
                if (closed_by or "").lower() != bot.lower():
                    rejected[str(candidate.tag)] = f"pull request #{p.number} closed unmerged"
        plan2 = plan_promotion(app=app.name, env=env.name, source_env=source, policy=app.policy,
                               candidate=candidate, running=running, rejected=rejected)
        if plan2.proposal is None:
            decisions[key] = "unchanged" if open_pr is None else ("waiting" if plan2.keep_open else "closed")
        elif open_pr is None:
            decisions[key] = "proposed"
        elif (parse_marker(open_pr.body) or {}).get("tag") != plan2.proposal.tag:
            decisions[key] = "updated"
        else:
            assert host is not None
            rule = env.approval or Rule()
            members = {team: host.team_members(team) for team in teams_of(rule)}
            checks = host.checks(open_pr.head.sha) if rule.checks else {}
            verdict = evaluate(rule, reviews=host.reviews(open_pr.number), author=open_pr.user.login, bot=bot,
                               head_sha=open_pr.head.sha, team_members=members, checks=checks)
            decisions[key] = "merged" if verdict.ok else "waiting"
        runs[env.name] = running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--clone", required=True, help="the baseline's own bare clone (created by --setup)")
    parser.add_argument("--setup", action="store_true", help="create the clone (one full fetch) and exit")
    parser.add_argument("--lift-value-limit", action="store_true",
                        help="lift the config reader's value budget (as the benchmark does for the product)")
    args = parser.parse_args(argv)
    if args.lift_value_limit:
        from bench.scale_world import LIFTED_NODES
        from gitops_promoter.config import reader

        reader.MAX_NODES = LIFTED_NODES
    t0 = time.perf_counter()
    config = load_config(args.config)
    loaded = time.perf_counter() - t0
    if args.setup:
        (repo,) = config.repositories.values()
        BatchedGit(Path(args.clone), repo.url, repo.branch).setup()
        return 0
    result = decide(config, clone=Path(args.clone))
    result["seconds"] = {"load config": round(loaded, 4), **result["seconds"]}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
