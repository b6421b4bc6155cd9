"""`make demo`: the promoter's main job, end to end, on this machine.

1. dev: a real registry (Debian's docker-registry) gets a new tag; the promoter commits it to
   dev; Argo CD and Argo Rollouts (simulated over a local Kubernetes API stand-in) start the
   canary; at each `pause: {}` gate the promoter queries a real Prometheus, and commits
   `pause: {duration: 10s}` when the analysis passes; when the rollout completes it re-arms
   the gates.
2. staging: only now is the tag a candidate; the promoter opens a pull request on a local
   GitHub stand-in, the demo plays O&M (a non-approver, then alice) and the promoter merges.
3. a bad tag: its canary fails the analysis at the first gate and the promoter reverts it in
   git; the tag is never proposed again.

Everything listens on 127.0.0.1 and is stopped at the end. The stand-ins live in tests/support.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.argo_sim import ArgoCD, Rollouts
from tests.support.exporter import Exporter
from tests.support.fake_github import FakeGitHub
from tests.support.fake_kube import FakeKube
from tests.support.prom import PrometheusServer
from tests.support.registry import Pusher, RegistryServer
from tests.support.world import ROLLOUT, STAGING, config_text, deploy_remote, kubeconfig_for

APP, RO, SERVICE = "argocd/web-dev", "shop/web", "web-canary"


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


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.promoter = str(Path(sys.executable).parent / "gitops-promoter")
        self.registry = RegistryServer()
        self.github = FakeGitHub(tokens={"demo-token": "promoter-bot"})
        self.kube = FakeKube()
        self.exporter = Exporter()
        self.prometheus: PrometheusServer | None = None
        os.environ["PROMOTER_GITHUB_TOKEN"] = "demo-token"

    def start(self) -> None:
        step("Start a real OCI registry and a real Prometheus on 127.0.0.1, and local stand-ins for "
             "GitHub and the Kubernetes API")
        self.registry.start()
        self.exporter.__enter__()
        self.exporter.set(SERVICE, 0.0)
        self.prometheus = PrometheusServer(target=f"127.0.0.1:{self.exporter.port}").start()
        self.github.__enter__()
        self.kube.__enter__()
        print(f"registry {self.registry.url}, prometheus {self.prometheus.url}, github {self.github.api}, "
              f"kubernetes {self.kube.url}")

    def stop(self) -> None:
        step("Stop everything")
        self.registry.stop()
        if self.prometheus is not None:
            self.prometheus.cleanup()
        for server in (self.github, self.kube, self.exporter):
            try:
                server.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - a server that never started
                pass
        print("all servers stopped, temporary files removed")

    def run(self) -> None:
        self.start()
        image = f"{self.registry.host}/acme/web"
        step("Create the deployment repository (a bare git remote) from fixtures/repos/deploy")
        remote = deploy_remote(self.work, image=image)
        self.github.add_repo("acme/deploy", remote)
        self.github.teams["acme/sre"] = ["carol", "dave"]
        argocd, rollouts = ArgoCD(self.kube, remote), Rollouts(self.kube)
        argocd.add(APP, ROLLOUT)
        argocd.sync(APP)
        rollouts.tick(RO)
        print(f"remote: {remote}; Argo CD runs its head; the Rollout shop/web is Healthy on v1.0.0")

        step("CI pushes acme/web v1.0.0 (running), v1.1.0 (new) and v2.0.0-rc.1 (a pre-release)")
        push = Pusher(self.registry.url)
        for tag, when in (("v1.0.0", "2026-11-20T09:00:00Z"), ("v1.1.0", "2026-11-23T10:02:11Z"),
                          ("v2.0.0-rc.1", "2026-11-23T11:00:00Z")):
            print(f"pushed {image}:{tag} {push.image('acme/web', tag, created=when)}")

        step("Write the O&M config and check it")
        config = self.work / "promoter.yaml"
        kubeconfig = kubeconfig_for(self.work / "kubeconfig", self.kube.url)
        assert self.prometheus is not None
        config.write_text(config_text(
            registry_host=self.registry.host, registry_url=self.registry.url, remote=remote, image=image,
            github_api=self.github.api, author_email="promoter@demo.local", workdir="repos", pacing=False,
            canary=(kubeconfig, self.prometheus.url, SERVICE), window="10s"))
        print(config.read_text())
        self.cli("check-config", str(config))
        self.prometheus.wait_for(f'http_requests_total{{service="{SERVICE}"}}')
        time.sleep(3)  # a few scrapes, so rate() has data

        step("Dry run: what would the promoter commit?")
        self.cli("run", "--once", "--dry-run", "--config", str(config))

        step("Run once: dev gets v1.1.0; its canary has not started; staging waits for it")
        self.cli("run", "--once", "--config", str(config))
        sh("git", "--no-pager", "log", "-1", "--format=commit %H%nAuthor: %an <%ae>%n%n%B", "main", cwd=remote)
        sh("git", "--no-pager", "diff", "main~1", "main", cwd=remote)

        step("Argo CD syncs; the Rollout walks setWeight 20 and stops at gate 1 (pause: {})")
        argocd.sync(APP)
        print(f"rollout: {self.rollout_state(rollouts)}")
        self.cli("status", "--config", str(config))

        step("Run once: Prometheus says the canary is healthy; gate 1 becomes pause: {duration: 10s}")
        self.cli("run", "--once", "--config", str(config))
        sh("git", "--no-pager", "diff", "main~1", "main", cwd=remote)

        step("Argo CD applies the advance: the steps changed, so Argo Rollouts starts the canary over at step 0;"
             " it walks the 10s pause (was gate 1), setWeight 50, the 30s pause, setWeight 80, and stops at gate 5")
        argocd.sync(APP)
        rollouts.tick(RO)
        rollouts.tick(RO, 10)
        print(f"rollout: {self.rollout_state(rollouts, 30)}")
        self.cli("run", "--once", "--config", str(config))

        step("The rollout walks its steps once more and completes; the promoter re-arms the gates and staging "
             "gets its pull request")
        argocd.sync(APP)
        for seconds in (0, 10, 30):
            rollouts.tick(RO, seconds)
        print(f"rollout: {self.rollout_state(rollouts, 10)}")
        self.cli("run", "--once", "--config", str(config))
        sh("git", "--no-pager", "log", "--oneline", "main", cwd=remote)

        step("The staging pull request")
        pr = self.github.pulls()[0]
        print(f"#{pr.number} {pr.title}  [{pr.head} → {pr.base}, labels: {', '.join(pr.labels)}]\n")
        print(pr.body)

        step("O&M review: mallory (not an approver) approves; the promoter waits")
        self.github.review(pr.number, "mallory", "APPROVED")
        self.cli("status", "--config", str(config))

        step("alice (an approver) approves the current head; the promoter merges")
        self.github.review(pr.number, "alice", "APPROVED")
        self.cli("run", "--once", "--config", str(config))
        sh("git", "--no-pager", "diff", "main~1", "main", "--", STAGING, cwd=remote)

        step("A bad build: v1.2.0 answers 40% of requests with 5xx")
        push.image("acme/web", "v1.2.0", created="2026-11-23T12:00:00Z")
        self.exporter.set(SERVICE, 0.4)
        time.sleep(8)  # the 10s rate window fills with errors
        self.cli("run", "--once", "--config", str(config))
        argocd.sync(APP)
        print(f"rollout: {self.rollout_state(rollouts)}")

        step("Run once: the analysis fails at gate 1; the promoter reverts the release in git")
        self.cli("run", "--once", "--config", str(config))
        sh("git", "--no-pager", "log", "-1", "--format=%B", "main", cwd=remote)
        argocd.sync(APP)
        print(f"rollout after Argo CD syncs the revert: {self.rollout_state(rollouts)}")

        step("Run again: v1.2.0 is rejected for dev and never proposed again")
        self.cli("run", "--once", "--config", str(config))
        print("\ndemo: done")

    def rollout_state(self, rollouts: Rollouts, seconds: float = 0.0) -> str:
        s = rollouts.tick(RO, seconds)["status"]
        return f"phase {s['phase']}, step {s['currentStepIndex']}"

    def cli(self, *args: str) -> None:
        sh(self.promoter, *args, cwd=self.work)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="promoter-demo-"))
    demo = Demo(work)
    try:
        demo.run()
        return 0
    finally:
        demo.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
