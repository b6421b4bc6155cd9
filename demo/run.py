"""`make demo`: the promoter's service at work, end to end, on this machine, in under 3 minutes.

The service (`gitops-promoter run --config promoter.yaml`) runs against real parts where they
can run here — Debian's docker-registry (which notifies the service of each push), Prometheus
scraping an exporter whose error rate the demo sets, a real git repository — and stand-ins for
GitHub and the Kubernetes API, where simulated Argo CD and Argo Rollouts run the dev canary
(tests/support). The story:

1. CI pushes v1.1.0; the registry's notification wakes the service, which commits it to dev.
2. Argo CD syncs; the Rollout stops at its gates (`pause: {}` at steps 1 and 5); at each one the
   service asks Prometheus and, the analysis passing, commits `pause: {duration: 10s}`.
3. The canary complete, staging gets a pull request: mallory's approval does not count, alice's
   does, and the service merges. Prod's pull request needs two approvals from acme/sre.
4. A person rolls prod back with `git revert HEAD`: the service respects it (nothing undone,
   v1.1.0 never proposed to prod again).
5. v1.2.0 answers 40% of requests with 5xx: its analysis fails at the gate at step 1 and the
   service reverts it in git.

Gates are named by their index in the Rollout's steps everywhere ("gate at step 1"), as the
promoter names them. `--keep` leaves everything running (until Ctrl-C) and prints where to look.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from demo import narrate
from demo.cluster import Cluster, Event
from demo.narrate import say, shell, step, voice, where
from demo.service import PROMOTER, PromoterService
from tests.support.exporter import Exporter
from tests.support.fake_github import FakeGitHub
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import HumanClone
from tests.support.net import free_port
from tests.support.prom import PrometheusServer
from tests.support.registry import Pusher, RegistryServer
from tests.support.world import ROLLOUT, STAGING, config_text, deploy_remote, kubeconfig_for

APPLICATION, ROLLOUT_REF, CANARY_SERVICE = "argocd/web-dev", "shop/web", "web-canary"
CLUSTER_SPEED = 3.0  # the simulated cluster's clock: a 30s pause takes 10 s
WAIT = 60.0  # seconds any one thing may take before the demo gives up and says what it waited for
SUCCESS_RATE = (f'sum(rate(http_requests_total{{service="{CANARY_SERVICE}",code!~"5.."}}[10s])) / '
                f'sum(rate(http_requests_total{{service="{CANARY_SERVICE}"}}[10s]))')


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.registry_secret, self.github_secret = secrets.token_hex(16), secrets.token_hex(16)
        self.env = {"PROMOTER_GITHUB_TOKEN": "demo-token", "PROMOTER_REGISTRY_HOOK_SECRET": self.registry_secret,
                    "PROMOTER_GITHUB_HOOK_SECRET": self.github_secret}
        self.events: queue.Queue[Event] = queue.Queue()
        self.registry = RegistryServer(notify=(f"{self.url}/hooks/registry", self.registry_secret))
        self.github = FakeGitHub(tokens={"demo-token": "promoter-bot"})
        self.kube = FakeKube()
        self.exporter = Exporter()
        self.prometheus: PrometheusServer | None = None
        self.cluster: Cluster | None = None
        self.service: PromoterService | None = None
        self.started: list[Callable[[], None]] = []  # how to stop what started, in start order
        self.remote = work / "deploy.git"

    # --- the parts ---------------------------------------------------------------------------
    def start_parts(self) -> None:
        step("Start the parts on 127.0.0.1")
        self.started.append(self.registry.stop)
        self.registry.start()
        self.exporter.__enter__()
        self.started.append(lambda: self.exporter.__exit__(None, None, None))
        self.exporter.set(CANARY_SERVICE, 0.0)
        self.prometheus = PrometheusServer(target=f"127.0.0.1:{self.exporter.port}")
        self.started.append(self.prometheus.cleanup)
        self.prometheus.start()
        self.github.__enter__()
        self.started.append(lambda: self.github.__exit__(None, None, None))
        self.kube.__enter__()
        self.started.append(lambda: self.kube.__exit__(None, None, None))
        where("docker-registry", f"{self.registry.url}  (Debian's; notifies {self.url}/hooks/registry)")
        where("Prometheus", f"{self.prometheus.url}  (Debian's; scrapes the web-canary exporter every 1s)")
        where("GitHub stand-in", self.github.api)
        where("Kubernetes stand-in", f"{self.kube.url}  (Argo CD and Argo Rollouts simulated; cluster clock "
                                     f"x{CLUSTER_SPEED:g})")

    def make_repository(self) -> None:
        step("The deployment repository: dev runs web v1.0.0; its Rollout has gates at steps 1 and 5")
        self.image = f"{self.registry.host}/acme/web"
        remote = deploy_remote(self.work, image=self.image)
        assert remote == self.remote, remote
        self.github.add_repo("acme/deploy", remote)
        self.github.teams["acme/sre"] = ["carol", "dave"]
        self.sh(f"git -C {remote.name} log --oneline", "git", "log", "--oneline", "main")
        self.sh(f"git -C {remote.name} show main:{ROLLOUT} | grep -A6 steps:", "bash", "-c",
                f"git show main:{ROLLOUT} | grep -A6 steps:")
        say("A `pause: {}` step is a gate: the Rollout waits there until the promoter's analysis passes. Gates "
            "are named by their index in spec.strategy.canary.steps, here the gates at step 1 and step 5.")
        self.cluster = Cluster(self.kube, remote, application=APPLICATION, rollout=ROLLOUT_REF, rollout_file=ROLLOUT,
                               events=self.events, speed=CLUSTER_SPEED)
        self.cluster.start()
        self.started.append(self.cluster.stop)
        self.drain()
        self.push = Pusher(self.registry.url)
        self.push.image("acme/web", "v1.0.0", created="2026-11-20T09:00:00Z")
        say(f"CI pushed {self.image}:v1.0.0, the tag dev runs.")

    def write_config(self) -> None:
        step("The O&M config: dev direct with a canary, staging and prod by pull request")
        assert self.prometheus is not None
        kubeconfig = kubeconfig_for(self.work / "kubeconfig", self.kube.url)
        text = config_text(registry_host=self.registry.host, registry_url=self.registry.url, remote=self.remote,
                           image=self.image, github_api=self.github.api, author_email="promoter@demo.local",
                           workdir="repos", pacing=False, canary=(kubeconfig, self.prometheus.url, CANARY_SERVICE),
                           window="10s")
        text += ("  journal: journal.sqlite\n"
                 "  poll_interval: 10s        # the fallback: webhooks wake it at once\n"
                 "  recheck_interval: 1s      # how soon it looks again at a canary in motion\n"
                 f"server:\n  listen: 127.0.0.1:{self.port}\n"
                 "  registry_webhook_secret: env:PROMOTER_REGISTRY_HOOK_SECRET\n"
                 "  github_webhook_secret: env:PROMOTER_GITHUB_HOOK_SECRET\n")
        self.config = self.work / "promoter.yaml"
        self.config.write_text(text)
        shell("cat promoter.yaml", text)
        self.cli("check-config", "promoter.yaml")
        say("prod: two approvals from the team acme/sre (carol, dave); staging: one, from alice or acme/sre.")
        shell("cat registry/config.yml   # docker-registry's notifications, secret masked",
              self._notifications())

    def _notifications(self) -> str:
        assert self.registry.dir is not None
        text = (self.registry.dir / "config.yml").read_text()
        return text[text.index("notifications:"):].replace(self.registry_secret, "***")

    def start_service(self) -> None:
        step("Start the service")
        self.service = PromoterService(self.config, url=self.url, env=self.env, events=self.events)
        shell(" ".join(["gitops-promoter", *self.service.command[1:]]) + " &")
        self.started.append(self.stop_service)
        self.service.start()
        say(f"ready: GET {self.url}/readyz answers 200. Its log: {self.service.log}")
        assert self.prometheus is not None
        self.prometheus.wait_for(f'http_requests_total{{service="{CANARY_SERVICE}"}}')
        self.until(lambda: self.success_rate() is not None, "Prometheus has a success rate for web-canary")

    def stop_service(self) -> None:
        if self.service is not None and self.service.running():
            took = self.service.stop()
            say(f"the service stopped on SIGTERM in {took:.1f} s, exit code 0")

    # --- the story ----------------------------------------------------------------------------
    def new_tag(self) -> None:
        step("CI pushes v1.1.0 (and v2.0.0-rc.1); the registry notifies the service; dev gets v1.1.0")
        before = self.head()
        pushed = time.monotonic()
        for tag, when in (("v1.1.0", "2026-11-23T10:02:11Z"), ("v2.0.0-rc.1", "2026-11-23T11:00:00Z")):
            digest = self.push.image("acme/web", tag, created=when)
            voice("ci", f"pushed {self.image}:{tag} {digest[:19]}…")
        self.until(lambda: self.head() != before, "the service commits v1.1.0 to dev")
        took = time.monotonic() - pushed
        self.until(lambda: self.heard("web/dev: bumped v1.0.0 → v1.1.0"), "the service reports the bump")
        say(f"{took:.2f} s from the push to the commit on the remote (the registry's webhook, not a poll: "
            "polls are 10 s apart). v2.0.0-rc.1 is a pre-release, outside the policy's ^1.0.")
        self.git("log -1", "log", "-1", "--format=commit %H%nAuthor: %an <%ae>%n%n%B", "main")
        self.git("diff HEAD~1", "diff", "main~1", "main")

    def canary(self) -> None:
        step("Argo CD syncs; the canary stops at the gate at step 1; the service analyses it on Prometheus")
        self.until(lambda: self.heard("web/dev: advanced v1.1.0: gate 1"), "the service passes the gate at step 1")
        self.git("show HEAD", "show", "--format=%B", "main")
        say("Argo Rollouts restarts the canary when its steps change (rollout/sync.go): it walks the 10s pause "
            "at step 1, setWeight 50, the 30s pause at step 3, setWeight 80 and stops at the gate at step 5.")
        step("The gate at step 5")
        self.until(lambda: self.heard("web/dev: advanced v1.1.0: gate 5"), "the service passes the gate at step 5")
        self.git("diff HEAD~1", "diff", "main~1", "main")
        say("Once more from step 0, through both passed gates (now 10s pauses), to the end: v1.1.0 completes "
            "its canary in dev, and only then is it a candidate for staging.")

    def staging(self) -> None:
        step("Staging: a pull request, approved by O&M, merged by the service")
        self.until(lambda: self.heard("web/staging: proposed"), "the service opens the staging pull request")
        pr = self.pull("staging")
        self.show_pull(pr)
        self.review(pr.number, "mallory")
        self.until(lambda: "not counted: mallory" in self.said("staging"), "the service reads mallory's review")
        say("mallory is not an approver: the service waits.")
        self.review(pr.number, "alice")
        self.until(lambda: self.heard("web/staging: merged"), "the service merges the staging pull request")
        self.git(f"diff HEAD~1 -- {STAGING}", "diff", "main~1", "main", "--", STAGING)

    def prod(self) -> None:
        step("Prod: a pull request that needs two approvals from acme/sre")
        self.until(lambda: self.heard("web/prod: proposed"), "the service opens the prod pull request")
        pr = self.pull("prod")
        self.show_pull(pr)
        self.review(pr.number, "carol")
        self.until(lambda: "approved by carol; 1 more approval" in self.said("prod"),
                   "the service counts carol's approval")
        self.cli("status", "--config", "promoter.yaml")
        self.review(pr.number, "dave")
        self.until(lambda: self.heard("web/prod: merged"), "the service merges the prod pull request")
        self.git("log -1 --stat", "log", "-1", "--stat", "--format=%h %s%n%n%b", "main")

    def person_reverts_prod(self) -> None:
        step("A person rolls prod back: git revert HEAD")
        say("Olive (O&M) wants prod back on v1.0.0 and does what the README says: revert the promotion "
            "commit (prod's pull request was squashed: one commit).")
        person = HumanClone(self.remote, self.work / "olive")
        env = ["-c", "user.name=Olive", "-c", "user.email=olive@acme.example"]
        self.sh("git revert --no-edit HEAD", "git", *env, "revert", "--no-edit", "HEAD", cwd=person.path)
        self.sh("git push origin HEAD:main", "git", "push", "-q", "origin", "HEAD:main", cwd=person.path)
        reverted = self.head()
        mark = self.service.mark() if self.service else 0
        self.deliver("push", {"ref": "refs/heads/main", "after": reverted,
                              "repository": {"full_name": "acme/deploy"}})
        self.until(lambda: self.heard("web/prod: unchanged: v1.1.0 was rejected for prod", since=mark),
                   "the service reads the person's revert")
        time.sleep(3)  # a few reconciles more: nothing may be undone
        self.drain()
        if self.head() != reverted or self.pull("prod", open_only=True):
            raise DemoFailed("the service undid the person's revert or proposed v1.1.0 to prod again")
        say(f"prod stays on v1.0.0: the head is still the person's revert {reverted[:10]} and no pull request "
            "proposes v1.1.0 to prod again (git says it was rejected there). Why, and what would change it:")
        self.cli("explain", "web", "prod", "--config", "promoter.yaml")

    def bad_tag(self) -> None:
        step("A bad build: v1.2.0 answers 40% of requests with 5xx")
        self.exporter.set(CANARY_SERVICE, 0.4)
        self.until(lambda: (self.success_rate() or 1.0) < 0.9, "Prometheus sees the errors")
        say(f"Prometheus now says: success rate {self.success_rate():.3f} over 10s; the gate wants ≥ 0.95.")
        self.push.image("acme/web", "v1.2.0", created="2026-11-23T12:00:00Z")
        voice("ci", f"pushed {self.image}:v1.2.0")
        self.until(lambda: self.heard("web/dev: reverted v1.2.0"), "the service reverts v1.2.0 in git")
        self.git("log -1", "log", "-1", "--format=%h %s%n%n%b", "main")
        assert self.cluster is not None
        self.until(lambda: self.cluster is not None and self.cluster.seen.startswith("v1.1.0: Healthy"),
                   "Argo CD syncs the revert and the Rollout is back on v1.1.0")
        self.exporter.set(CANARY_SERVICE, 0.0)

    def summary(self, *, graph: bool) -> None:
        step("Where things stand")
        self.cli("status", "--config", "promoter.yaml")
        if graph:
            self.git("log --oneline --graph", "log", "--oneline", "--graph", "main")
        metrics = httpx.get(f"{self.url}/metrics", timeout=5).text
        shown = [line for line in metrics.splitlines()
                 if line.startswith(("gitops_promoter_actions_total", "gitops_promoter_webhooks_total",
                                     "gitops_promoter_analysis_verdicts_total"))]
        shell(f"curl -s {self.url}/metrics | grep -E 'actions|webhooks|verdicts'", "\n".join(shown))

    def keep(self) -> None:
        assert self.service is not None and self.prometheus is not None
        step("Everything is still running (--keep): where to look")
        where("status page", f"{self.url}/")
        where("metrics", f"{self.url}/metrics")
        where("service log", str(self.service.log))
        where("config", f"{self.config}  (gitops-promoter status --config {self.config})")
        where("registry", f"{self.registry.url}  (push {self.image}:TAG to it: the service is notified)")
        where("Prometheus", self.prometheus.url)
        where("GitHub stand-in", f"{self.github.api}/repos/acme/deploy/pulls?state=all")
        where("deployment repo", str(self.remote))
        self.sh(f"git -C {self.remote} log --oneline --graph", "git", "log", "--oneline", "--graph", "main")
        say(f"Press Ctrl-C to stop everything; the files stay in {self.work}.")

    # --- helpers ------------------------------------------------------------------------------
    def drain(self) -> None:
        while True:
            try:
                who, text, style = self.events.get_nowait()
            except queue.Empty:
                return
            voice(who, text, style)

    def until(self, check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Narrate what happens until `check()` returns something true; fail saying what did not happen."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            found = check()
            if found:
                return found
            if self.service is not None and self.service.proc is not None and not self.service.running():
                raise DemoFailed(f"the service exited ({self.service.proc.returncode}) while waiting until {what}")
            if self.cluster is not None and self.cluster.failure is not None:
                raise DemoFailed(f"the simulated cluster failed: {self.cluster.failure!r}")
            if time.monotonic() > deadline:
                raise DemoFailed(f"gave up after {timeout:g} s waiting until {what}")
            time.sleep(0.1)

    def heard(self, start: str, since: int = 0) -> str | None:
        """The first outcome the service logged (after the `since`-th) that starts with `start`."""
        return self.service.heard_since(since, start) if self.service else None

    def said(self, env: str) -> str:
        return self.service.said.get(("web", env), "") if self.service else ""

    def head(self) -> str:
        return self._git("rev-parse", "main")

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.remote, check=True, capture_output=True,
                              text=True).stdout.strip()

    def pull(self, env: str, *, open_only: bool = False) -> Any:
        return next((p for p in self.github.pulls() if p.base == "main" and p.head == f"promoter/{env}/web"
                     and (p.state == "open" or not open_only)), None)

    def show_pull(self, pr: Any) -> None:
        voice("github", f"#{pr.number} {pr.title}  [{pr.head} → {pr.base}; labels: {', '.join(pr.labels) or '-'}]")
        body = pr.body.split("<!--", 1)[0].rstrip()
        shell(f"gh pr view {pr.number}   # its description", body)

    def review(self, number: int, who: str) -> None:
        """A person approves on GitHub; GitHub delivers the `pull_request_review` webhook."""
        self.github.review(number, who, "APPROVED")
        pr = next(p for p in self.github.pulls() if p.number == number)
        head = self.github.repo("acme/deploy").head_sha(pr.head)
        voice(who, f"approves #{number} on GitHub", "bold")
        self.deliver("pull_request_review", {
            "action": "submitted", "review": {"state": "approved", "user": {"login": who}, "commit_id": head},
            "pull_request": {"number": number, "head": {"ref": pr.head, "sha": head}, "base": {"ref": pr.base}},
            "repository": {"full_name": "acme/deploy"}})

    def deliver(self, event: str, payload: dict[str, Any]) -> None:
        """What GitHub does after the event (the stand-in does not send webhooks): a signed POST
        (X-Hub-Signature-256, HMAC-SHA256 of the body with the webhook's secret) to /hooks/github."""
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(self.github_secret.encode(), body, hashlib.sha256).hexdigest()
        answer = httpx.post(f"{self.url}/hooks/github", content=body, timeout=5, headers={
            "Content-Type": "application/json", "X-GitHub-Event": event, "X-Hub-Signature-256": signature,
            "X-GitHub-Delivery": secrets.token_hex(8)})
        voice("github", f"webhook {event} → /hooks/github: {answer.status_code} {answer.text.strip()}", "dim")

    def success_rate(self) -> float | None:
        assert self.prometheus is not None
        result = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": SUCCESS_RATE},
                           timeout=5).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def sh(self, shown: str, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(list(args), cwd=cwd or self.remote, text=True, capture_output=True,
                                env={**os.environ, **self.env})
        shell(shown, result.stdout + result.stderr)
        if result.returncode != 0:
            raise DemoFailed(f"`{shown}` failed with exit code {result.returncode}")
        return result.stdout

    def git(self, shown: str, *args: str) -> str:
        return self.sh(f"git {shown}", "git", "--no-pager", *args)

    def cli(self, *args: str) -> str:
        self.drain()
        return self.sh(" ".join(["gitops-promoter", *args]), PROMOTER, *args, cwd=self.work)

    def stop(self) -> None:
        errors = []
        for stop in reversed(self.started):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - stop the rest, then report
                errors.append(exc)
        self.started.clear()
        self.drain()
        if errors:
            raise DemoFailed(f"stopping: {errors[0]}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true",
                        help="leave everything running until Ctrl-C, and print where to look")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it as Ctrl-C does
    work = Path(tempfile.mkdtemp(prefix="promoter-demo-"))
    demo = Demo(work)
    started = time.monotonic()
    code = 1
    try:
        demo.start_parts()
        demo.make_repository()
        demo.write_config()
        demo.start_service()
        demo.new_tag()
        demo.canary()
        demo.staging()
        demo.prod()
        demo.person_reverts_prod()
        demo.bad_tag()
        demo.summary(graph=not args.keep)  # --keep prints it with where to look
        took = time.monotonic() - started
        narrate.console.print()
        say(f"demo: done in {took:.0f} s ({int(took // 60)} min {took % 60:.0f} s)")
        code = 0
        if args.keep:
            demo.keep()
            while True:
                time.sleep(0.5)
                demo.drain()
    except KeyboardInterrupt:
        narrate.console.print()
        if code == 0:
            say("Ctrl-C: stopping")
        else:
            say("interrupted")
            code = 130
    except DemoFailed as exc:
        narrate.console.print()
        say(f"demo: FAILED: {exc}")
        if demo.service is not None and demo.service.log.exists():
            shell(f"tail -20 {demo.service.log}", "\n".join(demo.service.log.read_text().splitlines()[-20:]))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave servers behind
        step("Stop everything")
        try:
            demo.stop()
        except DemoFailed as exc:
            say(str(exc))
            code = 1
        if args.keep and code == 0:
            say(f"stopped; the files stay in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            say(f"all servers stopped, {work} removed")
    return code


if __name__ == "__main__":
    sys.exit(main())
