"""Pull-request state for all apps of a repository in one paginated listing per pass, not one
lookup per app — counted on the local GitHub server, with the real PyGithub-based GitHubHost."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config import parse_config
from gitops_promoter.domain.proposal import Proposal, marker
from gitops_promoter.domain.tags import TagInfo
from tests.fakes import MemoryRegistry, run_all
from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import git, make_remote

IMAGE = "reg.local/acme/app"
DIGEST = "sha256:" + "1" * 64


def values(tag: str) -> str:
    return f"image:\n  repository: {IMAGE}\n  tag: {tag}\n"


def config_text(remote: Path, api: str, apps: int) -> str:
    blocks = "".join(
        f"  - name: app{n}\n    image: {IMAGE}\n    repository: deploy\n    policy: {{strategy: semver}}\n"
        f"    targets:\n"
        f"      dev: {{file: envs/dev/app{n}.yaml, edit: {{kind: helm, key: image.tag}}}}\n"
        f"      staging: {{file: envs/staging/app{n}.yaml, edit: {{kind: helm, key: image.tag}}}}\n"
        for n in range(apps))
    return f"""\
version: 1
repositories:
  - name: deploy
    url: file://{remote}
    branch: main
    github: {{repo: acme/deploy, api_url: {api}, token: env:PROMOTER_GITHUB_TOKEN,
              seconds_between_requests: 0, seconds_between_writes: 0}}
environments:
  - {{name: dev, mode: direct}}
  - name: staging
    mode: pull-request
    approval: {{required: 1, approvers: [alice]}}
apps:
{blocks}"""


class Fleet:
    """`apps` apps in one deployment repository: dev runs v1.1.0, staging v1.0.0."""

    def __init__(self, root: Path, github: FakeGitHub, apps: int) -> None:
        seed = root / "seed"
        for n in range(apps):
            for env, tag in (("dev", "v1.1.0"), ("staging", "v1.0.0")):
                path = seed / "envs" / env / f"app{n}.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(values(tag))
        self.root, self.github, self.apps = root, github, apps
        self.remote = make_remote(root, seed)
        github.add_repo("acme/deploy", self.remote)
        self.config = parse_config(config_text(self.remote, github.api, apps), source="promoter.yaml")
        self.registry = MemoryRegistry(images={IMAGE: [TagInfo("v1.0.0", digest=DIGEST), TagInfo("v1.1.0",
                                                                                                 digest=DIGEST)]})
        self.repo = GitRepo(self.config.repositories["deploy"], workdir=root / "work", sleep=lambda s: None,
                            backoff=Backoff(base=0.001))

    def run(self, *, observe: bool = False) -> dict[str, object]:
        """One pass, as `run --once` makes it: a new host, so nothing is kept from the pass before."""
        host = GitHubHost(self.config.repositories["deploy"].github, backoff=0.01, seconds_between_requests=0,
                          seconds_between_writes=0, pulls_ttl=math.inf)
        out = run_all(self.config, registry=self.registry, repos={"deploy": self.repo}, hosts={"deploy": host},
                      mode="observe" if observe else "run")
        return {f"{o.app}/{o.env}": o for o in out}

    def listings(self, since: int) -> list[dict[str, list[str]]]:
        """The queries of the pass's `GET …/pulls` list requests."""
        targets = [line.split(" ", 1)[1] for line in self.github.requests[since:] if line.startswith("GET ")]
        return [parse_qs(urlsplit(t).query) for t in targets if urlsplit(t).path == "/repos/acme/deploy/pulls"]


@pytest.fixture
def github(monkeypatch):
    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    with FakeGitHub(tokens={"bot-token": "promoter-bot", "human-token": "alice"}) as gh:
        yield gh


OPEN_LISTING = {"state": ["open"], "base": ["main"], "per_page": ["100"]}


def test_pull_requests_of_many_apps_are_one_listing_with_its_pages_per_pass(tmp_path, github):
    """105 apps, each with its open promoter PR: `status` reads them all through one listing of
    two pages (100 + 5), never a lookup per app; every app still sees its own PR."""
    fleet = Fleet(tmp_path, github, 105)
    work = tmp_path / "branches"
    git("clone", "-q", str(fleet.remote), str(work), cwd=tmp_path)
    (work / "touched").write_text("a change a promoter branch carries\n")
    git("add", "touched", cwd=work)
    git("commit", "-q", "-m", "a promoter branch", cwd=work)
    git("push", "-q", "origin", *(f"HEAD:refs/heads/promoter/staging/app{n}" for n in range(105)), cwd=work)
    for n in range(105):
        p = Proposal(f"app{n}", "staging", "dev", "v1.0.0", "v1.1.0", DIGEST)
        github.add_pull(f"promoter/staging/app{n}", title=f"promote(staging): app{n} v1.0.0 → v1.1.0",
                        body=f"proposal\n\n{marker(p)}\n", author="promoter-bot")
    before = len(github.requests)
    out = fleet.run(observe=True)
    assert fleet.listings(before) == [OPEN_LISTING, {**OPEN_LISTING, "page": ["2"]}]
    assert all(out[f"app{n}/staging"].pr == n + 1 for n in range(105))
    assert {out[f"app{n}/staging"].status for n in range(105)} == {"waiting"}


def test_a_run_lists_open_pull_requests_once_and_asks_closed_ones_only_where_they_decide(tmp_path, github):
    fleet = Fleet(tmp_path, github, 6)
    # First pass: no PR anywhere. Before opening each app's PR the promoter makes sure no person
    # rejected the tag by closing one (a lookup per PR it opens, beside that PR's own writes).
    before = len(github.requests)
    out = fleet.run()
    assert [out[f"app{n}/staging"].status for n in range(6)] == ["proposed"] * 6
    listed = fleet.listings(before)
    assert listed.count(OPEN_LISTING) == 1
    assert sorted(q["head"][0] for q in listed if q.get("state") == ["closed"]) == sorted(
        f"acme:promoter/staging/app{n}" for n in range(6))

    # Steady: every app waits on its PR. One listing, nothing per app.
    before = len(github.requests)
    out = fleet.run()
    assert [out[f"app{n}/staging"].status for n in range(6)] == ["waiting"] * 6
    assert fleet.listings(before) == [OPEN_LISTING]
    # All a waiting app costs is its PR, fresh, and its reviews: one request each.
    kinds = Counter(re.sub(r"/\d+", "/{n}", line.split("?")[0]) for line in github.requests[before:])
    assert kinds == {"GET /user": 1, "GET /repos/acme/deploy": 1, "GET /repos/acme/deploy/pulls": 1,
                     "GET /repos/acme/deploy/pulls/{n}": 6, "GET /repos/acme/deploy/pulls/{n}/reviews": 6}

    # A person closes app2's PR: it leaves the listing, and only app2's closed PRs are asked for.
    github.close(3, by="alice")
    before = len(github.requests)
    out = fleet.run()
    assert fleet.listings(before) == [OPEN_LISTING, {"state": ["closed"], "head": ["acme:promoter/staging/app2"],
                                                     "per_page": ["100"]}]
    assert (out["app2/staging"].status, out["app2/staging"].detail) == (
        "unchanged", "v1.1.0 was rejected for staging: pull request #3 closed unmerged by alice")

    # A merge: app0's PR approved and merged; the rest still wait. Still one listing.
    github.review(1, "alice", "APPROVED")
    before = len(github.requests)
    out = fleet.run()
    assert out["app0/staging"].status == "merged"
    assert [line for line in fleet.listings(before) if line.get("state") == ["open"]] == [OPEN_LISTING]


def test_the_kept_listing_follows_the_promoters_own_writes_within_a_pass(tmp_path, github):
    """One host for two passes (as the service keeps it): the second pass lists nothing, and sees
    the PRs the first one opened; a PR a person closed meanwhile is found closed at the merge."""
    fleet = Fleet(tmp_path, github, 3)
    host = GitHubHost(fleet.config.repositories["deploy"].github, backoff=0.01, seconds_between_requests=0,
                      seconds_between_writes=0, pulls_ttl=math.inf)

    def run():
        out = run_all(fleet.config, registry=fleet.registry, repos={"deploy": fleet.repo}, hosts={"deploy": host})
        return {f"{o.app}/{o.env}": o for o in out}

    assert [o.status for k, o in run().items() if k.endswith("/staging")] == ["proposed"] * 3
    github.close(2, by="alice")
    before = len(github.requests)
    out = run()
    assert fleet.listings(before) == []  # the kept listing, with the PRs this host opened
    assert (out["app0/staging"].status, out["app0/staging"].pr) == ("waiting", 1)
    assert (out["app1/staging"].status, out["app1/staging"].requeue_after) == ("waiting", 1.0)
    assert out["app1/staging"].detail == "pull request #2 was closed meanwhile; deciding again"
    out = run()  # the closed PR left the kept listing: app1's closed PRs are asked for, once
    assert out["app1/staging"].detail == "v1.1.0 was rejected for staging: pull request #2 closed unmerged by alice"
    assert [q["head"] for q in fleet.listings(before) if q.get("state") == ["closed"]] == [
        ["acme:promoter/staging/app1"]]


def test_a_fork_pull_request_is_never_taken_for_the_promoters(tmp_path, github):
    fleet = Fleet(tmp_path, github, 1)
    assert fleet.run()["app0/staging"].status == "proposed"
    github.pulls()[0].fork = "mallory/deploy"  # the same branch name, from someone's fork
    out = fleet.run()["app0/staging"]
    assert (out.status, out.pr) == ("proposed", 2)  # its own PR, beside the fork's


# --- the local GitHub pages as GitHub does ---------------------------------------------------------
@pytest.mark.parametrize(("query", "sizes", "links"), [
    pytest.param("", [30, 30, 30, 30, 30, 30, 30, 30, 10], None, id="default-30"),
    pytest.param("per_page=100", [100, 100, 50], None, id="per-page-100"),
    pytest.param("per_page=500", [100, 100, 50], None, id="per-page-capped-at-100"),
    pytest.param("per_page=250&page=2", [100], ['prev', 'next', 'last', 'first'], id="middle-page-links"),
    pytest.param("per_page=100&page=3", [50], ['prev', 'first'], id="last-page-links"),
])
def test_local_github_paginates_as_github(tmp_path, github, query, sizes, links):
    remote = make_remote(tmp_path)
    github.add_repo("acme/deploy", remote)
    for n in range(250):
        github.add_pull("main", title=f"t{n}", body="", author="alice", base="other")
    client = httpx.Client(headers={"Authorization": "token bot-token"})
    url = f"{github.api}/repos/acme/deploy/pulls?state=all" + (f"&{query}" if query else "")
    got = []
    first = client.get(url)
    got.append(len(first.json()))
    if links is not None:
        assert [rel for rel in ("prev", "next", "last", "first") if rel in first.links] == links
        return
    response = first
    while "next" in response.links:
        response = client.get(response.links["next"]["url"])
        got.append(len(response.json()))
    assert got == sizes
    assert "prev" not in first.links and "first" not in first.links
    if len(sizes) == 1:
        assert "Link" not in first.headers


def test_the_listing_is_asked_again_after_its_ttl_or_news_from_github(tmp_path, github):
    """The service's host: a listing serves for `pulls_ttl` seconds; a webhook (`expire`) ends it
    at once; a PR a person opened meanwhile is then seen."""
    fleet = Fleet(tmp_path, github, 1)
    now = [0.0]
    host = GitHubHost(fleet.config.repositories["deploy"].github, backoff=0.01, seconds_between_requests=0,
                      seconds_between_writes=0, pulls_ttl=10.0, clock=lambda: now[0])
    before = len(github.requests)
    assert host.open_pulls(base="main") == []
    github.add_pull("main", title="a person's", body="", author="alice", base="release")
    git("update-ref", "refs/heads/feature", "main", cwd=fleet.remote)
    mine = github.add_pull("feature", title="a person's", body="", author="alice")
    now[0] = 9.9
    assert host.open_pulls(base="main") == []
    now[0] = 10.0
    assert [p.number for p in host.open_pulls(base="main")] == [mine.number]
    github.close(mine.number, by="alice")
    assert [p.number for p in host.open_pulls(base="main")] == [mine.number]  # kept
    host.expire()
    assert host.open_pulls(base="main") == []
    assert fleet.listings(before) == [OPEN_LISTING] * 3


def test_a_github_webhook_makes_the_service_list_open_pull_requests_again(tmp_path, github):
    """The service's hosts keep their listing for a few seconds; news from GitHub about the
    repository (a PR closed, merged, reviewed) ends it at once, through the service's wrappers."""
    from gitops_promoter.runtime.serve import _hooks
    from gitops_promoter.runtime.service import Service
    from gitops_promoter.runtime.telemetry import Telemetry
    from gitops_promoter.workflows.reconcile import Ports
    from tests.fakes import MemoryJournal

    fleet = Fleet(tmp_path, github, 1)
    host = GitHubHost(fleet.config.repositories["deploy"].github, backoff=0.01, seconds_between_requests=0,
                      seconds_between_writes=0, pulls_ttl=3600)
    ports = Ports(registry=fleet.registry, repos={"deploy": fleet.repo}, journal=MemoryJournal(),
                  hosts={"deploy": host})
    service = Service(fleet.config, ports, telemetry=Telemetry())
    before = len(github.requests)
    service.ports.hosts["deploy"].open_pulls(base="main")
    service.ports.hosts["deploy"].open_pulls(base="main")
    assert len(fleet.listings(before)) == 1
    assert _hooks(fleet.config, service, Telemetry()).apps_for_github("acme/deploy") == ["app0"]
    service.ports.hosts["deploy"].open_pulls(base="main")
    assert len(fleet.listings(before)) == 2
