"""The demo's cluster: Argo CD and Argo Rollouts, simulated over the Kubernetes API stand-in
(tests/support/argo_sim.py, tests/support/fake_kube.py), running on their own in a thread.

* Argo CD auto-syncs: each new commit on the deployment repository's branch is applied (as with a
  git webhook or the promoter's refresh annotation), then it observes the Rollout's health.
* The Argo Rollouts controller reconciles the Rollout every 0.2 s; its clock runs `speed` times
  faster than the wall clock, so a `pause: {duration: 30s}` takes 30 / speed seconds. Everything
  else (the promoter, Prometheus, git) runs at the wall clock.

Every change a person would notice (a sync, the Rollout's step, phase or image) is reported as a
line for the narration."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.argo_sim import ROLLOUTS, ArgoCD, Rollouts
from tests.support.fake_kube import FakeKube

Event = tuple[str, str, str]  # (who, text, style)


def describe(rollout: dict[str, Any]) -> str:
    """The Rollout as `kubectl argo rollouts get` would summarise it: image tag, step, weight, phase."""
    spec, status = rollout["spec"], rollout.get("status") or {}
    steps = spec["strategy"]["canary"].get("steps") or []
    image = next(c["image"] for c in spec["template"]["spec"]["containers"] if c["name"] == "web")
    tag = image.rsplit(":", 1)[-1]
    phase = status.get("phase", "?")
    if status.get("stableRS") == status.get("currentPodHash") and phase == "Healthy":
        return f"{tag}: Healthy, 100% on stable (every step done)"
    index = status.get("currentStepIndex", len(steps))
    weight = 0
    for s in steps[:index + 1]:
        weight = int(s.get("setWeight", weight))
    where = f"step {index} of {len(steps)}"
    if index < len(steps):
        where += f" ({_step_text(steps[index])})"
    if status.get("abort"):
        return f"{tag}: aborted, back on stable"
    return f"{tag}: {phase} at {where}, canary weight {weight}%"


def _step_text(step: dict[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight: {step['setWeight']}"
    pause = step.get("pause") or {}
    return f"pause: {{duration: {pause['duration']}}}" if "duration" in pause else "pause: {} - a gate"


class Cluster:
    def __init__(self, kube: FakeKube, remote: Path, *, application: str, rollout: str, rollout_file: str,
                 events: queue.Queue[Event], speed: float) -> None:
        self.kube, self.remote, self.application, self.rollout = kube, remote, application, rollout
        self.rollout_file = rollout_file
        self.argocd = ArgoCD(kube, remote)
        self.argocd.add(application, rollout_file)
        self.rollouts = Rollouts(kube)
        self.events, self.speed = events, speed
        self.synced = ""
        self.seen = ""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="cluster", daemon=True)
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._reconcile(0.0)  # the first sync: the Rollout is created and runs its first template
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def state(self) -> dict[str, Any]:
        ns, name = self.rollout.split("/")
        obj = self.kube.get(ROLLOUTS, ns, name)
        assert obj is not None, self.rollout
        return obj

    def _loop(self) -> None:
        last = time.monotonic()
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            try:
                self._reconcile((now - last) * self.speed)
            except BaseException as exc:  # noqa: BLE001 - reported to the demo, which stops
                self.failure = exc
                self.events.put(("cluster", f"the simulated cluster failed: {exc!r}", "red"))
                return
            last = now

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.remote, check=True, capture_output=True,
                              text=True).stdout.strip()

    def _reconcile(self, seconds: float) -> None:
        head = self._git("rev-parse", "main")
        if head != self.synced:
            self.argocd.sync(self.application)
            changed = self.synced and self._git("diff", "--name-only", self.synced, head, "--", self.rollout_file)
            if changed:
                subject = self._git("log", "-1", "--format=%s", head)
                self.events.put(("argo cd", f"synced {head[:10]} ({subject}) to {self.application}", "dim"))
            self.synced = head
        seen = describe(self.rollouts.tick(self.rollout, seconds))
        self.argocd.observe(self.application)
        if seen != self.seen:
            self.seen = seen
            self.events.put(("rollouts", f"{self.rollout} {seen}", "magenta"))
