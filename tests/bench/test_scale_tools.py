"""The scale benchmark's own instruments count what really happens: a miscount would make its
figures lie (bench/scale_probe.py, bench/scale_baseline.py, bench/scale_world.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from bench.scale_baseline import BatchedGit, index_by_app
from bench.scale_probe import CountingProxy, GitCounter, run_measured, subcommand
from bench.scale_world import Images, build_deploy_repo, path
from gitops_promoter.domain.edits import ContainerEdit, KustomizeEdit, read_running
from gitops_promoter.domain.history import Commit
from gitops_promoter.domain.plan import parse_trailers
from tests.support.registry import Pusher


def test_the_proxy_counts_each_request_by_kind_and_forwards_it_unchanged(registry) -> None:
    Pusher(registry.url).image("scale-probe/web", "v1.0.0")
    with CountingProxy(registry.url) as proxy:
        with httpx.Client(base_url=proxy.url) as client:
            tags = client.get("/v2/scale-probe/web/tags/list").json()
            head = client.head("/v2/scale-probe/web/manifests/v1.0.0",
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            missing = client.get("/v2/scale-probe/ghost/tags/list")
        assert tags == {"name": "scale-probe/web", "tags": ["v1.0.0"]}
        assert head.status_code == 200 and head.headers["Docker-Content-Digest"].startswith("sha256:")
        assert missing.status_code == 404
        assert proxy.reset() == {"tags/list": 2, "manifest HEAD": 1}
        assert proxy.counts == {}


def test_the_git_wrapper_logs_every_process_with_its_subcommand(tmp_path: Path) -> None:
    counter = GitCounter(tmp_path / "bin")
    env = counter.env({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    repo = tmp_path / "r"
    for args in (["init", "-q", str(repo)], ["-C", str(repo), "-c", "x.y=z", "rev-parse", "--git-dir"],
                 ["-C", str(repo), "cat-file", "--batch-check"]):
        subprocess.run(["git", *args], env=env, input=b"", capture_output=True, check=True)
    assert counter.take() == {"init": 1, "rev-parse": 1, "cat-file --batch-check": 1}
    bare = tmp_path / "remote.git"
    subprocess.run(["/usr/bin/git", "init", "-q", "--bare", str(bare)], check=True, capture_output=True)
    who = ["-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run(["/usr/bin/git", "-C", str(repo), *who, "commit", "-q", "--allow-empty", "-m", "x"], check=True,
                   capture_output=True, env=env)
    for ref in ("refs/heads/main", "refs/heads/promoter/staging/web"):
        subprocess.run(["git", "-C", str(repo), "push", "-q", str(bare), f"HEAD:{ref}"], env=env, check=True,
                       capture_output=True)
    assert counter.take() == {"push": 2, "push to main": 1, "push to another ref": 1}
    assert counter.take() == {}
    assert subcommand(["--git-dir", "x", "fetch", "-q"]) == "fetch"


def test_run_measured_reports_the_exit_code_and_a_peak_rss_that_grows_with_the_process(tmp_path: Path) -> None:
    small = run_measured(["python3", "-c", "import time; time.sleep(0.2)"], cwd=tmp_path, env=os.environ)
    big = run_measured(["python3", "-c", "import time; b = bytearray(150 * 2**20); time.sleep(0.2); raise "
                        "SystemExit(3)"], cwd=tmp_path, env=os.environ)
    assert small.returncode == 0 and big.returncode == 3
    assert big.rss_mb > small.rss_mb + 100


def test_the_baseline_index_gives_each_app_its_commits_and_every_revert_newest_first() -> None:
    def c(sha: str, app: str | None = None, reverts: str | None = None) -> Commit:
        trailers = f"\n\nPromoter-App: {app}\nPromoter-Env: dev\n" if app else ""
        body = f"\n\nThis reverts commit {reverts}." if reverts else ""
        return Commit(sha, sha, f"{sha}{body}{trailers}")

    ids = {n: f"{n:07d}" for n in range(1, 6)}
    newest_first = [c(ids[5], "web"), c(ids[4], reverts=ids[1]), c(ids[3], "api"), c(ids[2], "web"),
                    c(ids[1], "api")]
    index = index_by_app(newest_first)
    assert [x.sha for x in index["web"]] == [ids[5], ids[4], ids[2]]
    assert [x.sha for x in index["api"]] == [ids[4], ids[3], ids[1]]


def test_the_world_repository_and_the_baselines_pinned_reads_agree(registry, tmp_path: Path) -> None:
    images = Images(registry, Pusher(registry.url))
    images.ensure(10)
    bare = tmp_path / "deploy.git"
    facts = build_deploy_repo(bare, 10, images)
    git = BatchedGit(tmp_path / "clone", f"file://{bare}", "main")
    git.setup()
    head, texts = git.read_pinned([path(0, "dev"), path(7, "staging"), "no/such/file.yaml"])
    assert head == subprocess.run(["git", "rev-parse", "main"], cwd=bare, capture_output=True, text=True,
                                  check=True).stdout.strip()
    dev = read_running(texts[path(0, "dev")] or "", ContainerEdit("app"), source="dev")
    assert dev.tag == "v1.4.0"
    staging = read_running(texts[path(7, "staging")] or "",
                           KustomizeEdit("registry.bench.local/acme/img-001"), source="staging")
    assert staging.tag == "v3.2.0"  # app 7 lags: staging one promotion behind dev
    assert texts["no/such/file.yaml"] is None
    history = git.history(head)
    assert len(history) == facts["commits"] - 1 - 4  # every commit but the first and the people's
    assert parse_trailers(history[0].message)["Promoter-App"].startswith("app-")
