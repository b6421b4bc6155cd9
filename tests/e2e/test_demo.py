"""`make demo` run as CI would, its stdout a pipe: the whole story through the service, in under
3 minutes, in plain text, one numbering for gates; `--keep` leaves the status page, /metrics and
the deployment repository to look at until SIGINT. Slow (about 80 s on 2 cores): the demo is
the service's real timeline. And without --keep, an interrupted demo leaves nothing running and
no files."""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.gitremote import git
from tests.support.service import ROOT

pytestmark = [pytest.mark.real,
              pytest.mark.skipif(not (shutil.which("docker-registry") and shutil.which("prometheus")),
                                 reason="the demo needs Debian's docker-registry and prometheus (`make debs`)")]


class Demo:
    """`python -m demo.run ARGS` with its output read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "demo.run", *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "100"})
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"the demo never printed /{pattern}/ (exit {self.proc.poll()}):\n{self.text[-6000:]}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=60)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def close(self) -> None:
        """Stop the demo as Ctrl-C does (it stops what it started; a SIGKILL would leave its
        service, registry and Prometheus running), and delete its folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        found = re.search(r"Its log: (\S+)/service\.log", self.text)
        if found:
            shutil.rmtree(found.group(1), ignore_errors=True)


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


def test_the_demo_tells_the_whole_story_in_under_3_minutes_and_keep_leaves_it_running():
    demo = Demo("--keep")
    try:
        took = int(demo.until(r"demo: done in (\d+) s", timeout=180).group(1))
        demo.until(r"Press Ctrl-C to stop everything", timeout=30)
        text = demo.text
        assert took < 180
        assert "\x1b" not in text  # a pipe gets plain text
        story = [
            "$ gitops-promoter --log-level debug run --config promoter.yaml &",
            "promoter │ checking", "(registry webhook)",
            "web/dev: bumped v1.0.0 → v1.1.0",
            "web/dev: advanced v1.1.0: gate 1: analysis passed at gate 1",
            "web/dev: advanced v1.1.0: gate 5: analysis passed at gate 5",
            "web/staging: proposed v1.0.0 → v1.1.0 (#1)",
            "not counted: mallory (not an approver)",
            "web/staging: merged v1.0.0 → v1.1.0 (#1): ready to merge (approved by alice)",
            "Merges itself when the approval rule holds: 2 approvals from acme/sre on the current head.",
            "web/prod: live v1.0.0; waiting → v1.1.0 (#2): waiting: approved by carol; 1 more approval needed",
            "web/prod: merged v1.0.0 → v1.1.0 (#2): ready to merge (approved by carol, dave)",
            "$ git revert --no-edit HEAD",
            "web/prod: unchanged: v1.1.0 was rejected for prod: reverted in",
            "web/dev: reverted v1.2.0: v1.2.0: canary analysis failed at gate 1 (success-rate)",
            "━━ 12. Where things stand",
        ]
        at = 0
        # In this order. Lines from other threads (the cluster's) or logged within a pass (an analysis
        # starts before the pass logs its outcomes) are only checked for presence, below.
        for line in story:
            found = text.find(line, at)
            assert found >= 0, f"not in the demo's output after position {at}: {line!r}\n{text[at:at + 3000]}"
            at = found
        cluster = ["rollouts │ shop/web v1.0.0: Healthy",
                   "rollouts │ shop/web v1.1.0: Paused at step 1 of 6 (pause: {} - a gate), canary weight 20%",
                   "rollouts │ shop/web v1.1.0: Paused at step 3 of 6 (pause: {duration: 30s}), canary weight 50%",
                   "rollouts │ shop/web v1.1.0: Paused at step 5 of 6 (pause: {} - a gate), canary weight 80%",
                   "rollouts │ shop/web v1.1.0: Healthy, 100% on stable",
                   "rollouts │ shop/web v1.2.0: Paused at step 1 of 6 (pause: {} - a gate)",
                   "argo cd  │ synced"]
        cluster += ["web/dev: starting the analysis of gate 1", "web/dev: starting the analysis of gate 5"]
        assert not [line for line in cluster if line not in text], text
        assert text.rindex("rollouts │ shop/web v1.1.0: Healthy") > text.index("(revert(dev): web v1.2.0)")
        # One numbering for gates: the Rollout's step index, in the promoter's words and the demo's.
        assert set(re.findall(r"gate (?:at step )?(\d+)", text)) == {"1", "5"}
        assert "gate 2" not in text

        page = re.search(r"status page +(http://127\.0\.0\.1:\d+/)", text).group(1)
        body = httpx.get(page, timeout=5).text
        assert "v1.2.0" in body and "gitops-promoter allow web dev v1.2.0" in body
        metrics = httpx.get(page + "metrics", timeout=5).text
        assert 'gitops_promoter_webhooks_total{code="202",source="registry"}' in metrics
        assert 'gitops_promoter_actions_total{app="web",env="dev",result="reverted"} 1.0' in metrics
        repo = Path(re.search(r"deployment repo +(\S+)", text).group(1))
        work = repo.parent
        assert git("log", "--format=%s", "main", cwd=repo).splitlines() == [
            "revert(dev): web v1.2.0", "promote(dev): web v1.1.0 → v1.2.0",
            'Revert "promote(prod): web v1.0.0 → v1.1.0"', "promote(prod): web v1.0.0 → v1.1.0",
            "promote(staging): web v1.0.0 → v1.1.0", "advance(dev): web v1.1.0 gate 5",
            "advance(dev): web v1.1.0 gate 1", "promote(dev): web v1.0.0 → v1.1.0", "Initial deployment manifests"]
        graph = text[text.index(f"$ git -C {repo} log --oneline --graph"):]
        assert "* " in graph and "revert(dev): web v1.2.0" in graph

        assert demo.interrupt() == 0
        assert "the service stopped on SIGTERM" in demo.text and f"the files stay in {work}" in demo.text
        assert not answers(page + "healthz")
        assert repo.is_dir()  # --keep: the files stay
    finally:
        demo.close()


def test_without_keep_an_interrupted_demo_stops_everything_and_removes_its_files():
    demo = Demo()
    try:
        log = Path(demo.until(r"Its log: (\S+)", timeout=90).group(1))
        url = re.search(r"GET (http://127\.0\.0\.1:\d+)/readyz", demo.text).group(1)
        registry = re.search(r"docker-registry +(http://127\.0\.0\.1:\d+)", demo.text).group(1)
        assert answers(url + "/healthz") and answers(registry + "/v2/")
        assert demo.interrupt() == 130
        assert "interrupted" in demo.text and "the service stopped on SIGTERM" in demo.text
        assert not answers(url + "/healthz") and not answers(registry + "/v2/")
        assert not log.parent.exists()
    finally:
        demo.close()
