"""`make demo`: the promoter's main job, end to end, on this machine.

Starts Debian's docker-registry on 127.0.0.1, makes a local deployment repository from
fixtures/repos/deploy, pushes two image tags, runs `gitops-promoter run --once`, and shows
the commit it made to dev. Then staging: no GitHub is reachable here, so the local GitHub
stand-in from tests/support serves the pull request; the demo plays O&M (a non-approver, then
alice approves) and the promoter merges. Everything listens on 127.0.0.1 and stops at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.fake_github import FakeGitHub
from tests.support.registry import Pusher, RegistryServer
from tests.support.world import ROLLOUT, STAGING, config_text, deploy_remote


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def sh(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"$ {shown}", flush=True)
    result = subprocess.run(list(args), cwd=cwd, text=True, capture_output=True)
    if result.stdout:
        print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
    if result.stderr:
        print(result.stderr, end="" if result.stderr.endswith("\n") else "\n", file=sys.stderr)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: {args[0]} failed with exit code {result.returncode}")
    return result


def main() -> int:
    promoter = str(Path(sys.executable).parent / "gitops-promoter")
    work = Path(tempfile.mkdtemp(prefix="promoter-demo-"))
    registry = RegistryServer()
    github = FakeGitHub(tokens={"demo-token": "promoter-bot"})
    os.environ["PROMOTER_GITHUB_TOKEN"] = "demo-token"
    try:
        step("Start a real OCI registry (Debian docker-registry) on 127.0.0.1")
        registry.start()
        print(f"registry listening on {registry.url}")
        image = f"{registry.host}/acme/web"

        step("Create the deployment repository (a bare git remote) from fixtures/repos/deploy")
        remote = deploy_remote(work, image=image)
        print(f"remote: {remote}")
        sh("git", "--no-pager", "show", f"main:{ROLLOUT}", cwd=remote)

        step("CI pushes two tags of acme/web: v1.0.0 (running in dev) and v1.1.0 (new)")
        push = Pusher(registry.url)
        for tag, when in (("v1.0.0", "2026-11-20T09:00:00Z"), ("v1.1.0", "2026-11-23T10:02:11Z")):
            print(f"pushed {image}:{tag} {push.image('acme/web', tag, created=when)}")
        push.image("acme/web", "v2.0.0-rc.1", created="2026-11-23T11:00:00Z")
        print(f"pushed {image}:v2.0.0-rc.1 (a pre-release: the policy ^1.0 must skip it)")

        step("Write the O&M config and check it")
        config = work / "promoter.yaml"
        github.__enter__()
        github.add_repo("acme/deploy", remote)
        github.teams["acme/sre"] = ["carol", "dave"]
        print(f"local GitHub stand-in on {github.api} (serves acme/deploy from the bare remote)")
        config.write_text(config_text(registry_host=registry.host, registry_url=registry.url, remote=remote,
                                      image=image, github_api=github.api, author_email="promoter@demo.local",
                                      workdir="repos", pacing=False))
        print(config.read_text())
        sh(promoter, "check-config", str(config), cwd=work)

        step("Dry run: what would the promoter commit?")
        sh(promoter, "run", "--once", "--dry-run", "--config", str(config), cwd=work)

        step("Run the promoter once: dev is bumped, and staging gets a pull request")
        sh(promoter, "run", "--once", "--config", str(config), cwd=work)

        step("The dev commit on the remote: subject, trailers and a one-line diff")
        sh("git", "--no-pager", "log", "-1", "--format=commit %H%nAuthor: %an <%ae>%n%n%B", "main", cwd=remote)
        sh("git", "--no-pager", "diff", "main~1", "main", cwd=remote)

        step("The staging pull request")
        pr = github.pulls()[0]
        print(f"#{pr.number} {pr.title}  [{pr.head} → {pr.base}, labels: {', '.join(pr.labels)}]\n")
        print(pr.body)

        step("O&M review: mallory (not an approver) approves; the promoter waits")
        github.review(pr.number, "mallory", "APPROVED")
        sh(promoter, "status", "--config", str(config), cwd=work)

        step("alice (an approver) approves the current head; the promoter merges")
        github.review(pr.number, "alice", "APPROVED")
        sh(promoter, "run", "--once", "--config", str(config), cwd=work)
        sh("git", "--no-pager", "diff", "main~1", "main", "--", STAGING, cwd=remote)

        step("Run again: dev and staging are current; prod waits for two acme/sre approvals")
        sh(promoter, "status", "--config", str(config), cwd=work)
        sh("git", "--no-pager", "log", "--oneline", "main", cwd=remote)
        print("\ndemo: done")
        return 0
    finally:
        step("Stop everything")
        registry.stop()
        github.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)
        print("registry and GitHub stand-in stopped, temporary files removed")


if __name__ == "__main__":
    sys.exit(main())
