"""Simulators of Argo CD and Argo Rollouts over the fake Kubernetes API, driven step by step.

* `ArgoCD.sync(app)`: like an auto-sync, reads the Application's path at the head of the
  deployment repo's branch, applies the Rollout in it to the cluster (spec only) and records the
  sync operation (`status.operationState` Succeeded, `syncResult.revision`) and the comparison
  (`status.sync` Synced at that revision). `ArgoCD.compare(app)` is a refresh without a sync (auto-sync
  off, or not yet run): `status.sync.revision` moves to the head — Argo CD sets it to the compared
  revision even while OutOfSync — and nothing is applied. A multi-source Application (`sources`)
  reports `revisions` (one per source) instead of `revision`, in `sync` and in `syncResult`
  (argo-cd pkg/apis/application/v1alpha1/types.go: SyncStatus, SyncOperationResult).
* `Rollouts.tick(ref, seconds)`: like the Argo Rollouts controller, walks the canary steps
  (`setWeight`, `pause: {}`, `pause: {duration}`), sets `pauseConditions`, completes (the new
  pod hash becomes stable), goes back to stable at once when the template returns to the
  stable image, and marks the Rollout Degraded on `abort(ref)` (an in-cluster analysis failed).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.fake_kube import FakeKube

APPS = "argoproj.io/v1alpha1/applications"
ROLLOUTS = "argoproj.io/v1alpha1/rollouts"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _seconds(duration: Any) -> float:
    text = str(duration)
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


@dataclass
class ArgoCD:
    kube: FakeKube
    repo: Path  # bare deployment repository
    branch: str = "main"
    paths: dict[str, str] = field(default_factory=dict)  # application ref -> rollout file
    multi: dict[str, str] = field(default_factory=dict)  # application ref -> its second source's revision

    def add(self, app: str, rollout_file: str, *, second_source: str | None = None) -> None:
        """`second_source`: a multi-source Application whose other source (a Helm chart's values,
        say) sits at this revision."""
        ns, name = app.split("/")
        self.paths[app] = rollout_file
        spec: dict[str, Any] = {"source": {"path": rollout_file}}
        if second_source is not None:
            self.multi[app] = second_source
            spec = {"sources": [{"path": rollout_file}, {"repoURL": "https://charts.example/", "chart": "web"}]}
        self.kube.put(APPS, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                             "metadata": {"name": name, "namespace": ns}, "spec": spec,
                             "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Missing"}}})

    def _revision_fields(self, app: str, head: str) -> dict[str, Any]:
        if app in self.multi:
            return {"revisions": [head, self.multi[app]]}
        return {"revision": head}

    def compare(self, app: str) -> str:
        """A refresh: Argo CD compares git's head with the cluster and applies nothing."""
        head = _git(self.repo, "rev-parse", self.branch).strip()
        app_ns, app_name = app.split("/")
        current = self.kube.get(APPS, app_ns, app_name) or {}
        applied = ((current.get("status") or {}).get("operationState") or {}).get("syncResult") or {}
        same = applied.get("revision") == head or (applied.get("revisions") or [None])[0] == head
        self.kube.patch(APPS, app_ns, app_name, {"status": {"sync": {
            "status": "Synced" if same else "OutOfSync", **self._revision_fields(app, head)}}})
        return head

    def sync(self, app: str) -> str:
        head = _git(self.repo, "rev-parse", self.branch).strip()
        text = _git(self.repo, "show", f"{head}:{self.paths[app]}")
        manifest = next(d for d in YAML(typ="safe").load_all(text) if d and d.get("kind") == "Rollout")
        meta = manifest["metadata"]
        ns = meta.get("namespace", "default")
        current = self.kube.get(ROLLOUTS, ns, meta["name"])
        obj = {"apiVersion": manifest["apiVersion"], "kind": "Rollout",
               "metadata": {**(current or {}).get("metadata", {}), "name": meta["name"], "namespace": ns},
               "spec": _plain(manifest["spec"]), "status": (current or {}).get("status", {})}
        if current is None or current["spec"] != obj["spec"]:
            self.kube.put(ROLLOUTS, obj)
        app_ns, app_name = app.split("/")
        revisions = self._revision_fields(app, head)
        self.kube.patch(APPS, app_ns, app_name, {"status": {
            "sync": {"status": "Synced", **revisions}, "health": {"status": "Healthy"},
            "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                               "syncResult": revisions}}})
        return head


@dataclass
class Rollouts:
    kube: FakeKube
    now: float = 0.0

    def _hash(self, spec: dict[str, Any]) -> str:
        return hashlib.sha256(repr(spec["template"]).encode()).hexdigest()[:10]

    def _step_hash(self, spec: dict[str, Any]) -> str:
        return hashlib.sha256(repr(spec["strategy"]["canary"]["steps"]).encode()).hexdigest()[:10]

    def abort(self, ref: str, message: str = "analysis run failed") -> None:
        """Argo Rollouts' abort: back to the stable ReplicaSet, step index 0, Degraded
        (rollout/canary.go, pause.go AddAbort; the index reset in sync.go)."""
        ns, name = ref.split("/")
        self.kube.patch(ROLLOUTS, ns, name, {"status": {"abort": True, "phase": "Degraded", "message": message,
                                                        "currentStepIndex": 0, "pauseConditions": None}})

    def tick(self, ref: str, seconds: float = 0.0) -> dict[str, Any]:
        self.now += seconds
        ns, name = ref.split("/")
        obj = self.kube.get(ROLLOUTS, ns, name)
        assert obj is not None, ref
        spec, status = obj["spec"], dict(obj.get("status") or {})
        steps = spec["strategy"]["canary"]["steps"]
        desired = self._hash(spec)
        stable = status.get("stableRS")
        if stable is None:  # first deployment: no canary
            status.update({"stableRS": desired, "currentPodHash": desired, "currentStepIndex": len(steps),
                           "phase": "Healthy", "pauseConditions": None})
        elif desired == stable:
            if status.get("currentPodHash") != stable or status.get("abort"):
                status.update({"currentPodHash": stable, "currentStepIndex": len(steps), "phase": "Healthy",
                               "pauseConditions": None, "abort": None, "message": None})
        else:
            # rollout/sync.go syncRolloutStatusCanary: when the pod template or the steps changed
            # (PodTemplateOrStepsChanged: status.currentPodHash / status.currentStepHash differ),
            # resetRolloutStatus clears pause conditions and the abort and sends the index back to 0.
            changed = status.get("currentPodHash") != desired or status.get("currentStepHash") != self._step_hash(spec)
            if changed:
                status.update({"currentPodHash": desired, "currentStepIndex": 0, "pauseConditions": None,
                               "phase": "Progressing", "pauseStartedAt": None, "abort": None, "message": None})
            if not status.get("abort"):
                self._walk(status, steps, desired)
        status["currentStepHash"] = self._step_hash(spec)
        status["observedGeneration"] = str(obj["metadata"].get("generation", 0))
        return self.kube.patch(ROLLOUTS, ns, name, {"status": status})

    def _walk(self, status: dict[str, Any], steps: list[dict[str, Any]], desired: str) -> None:
        while status["currentStepIndex"] < len(steps):
            step = steps[status["currentStepIndex"]]
            if "pause" not in step:
                status["currentStepIndex"] += 1
                continue
            pause = step["pause"] or {}
            if status.get("pauseStartedAt") is None:
                status["pauseStartedAt"] = self.now
            if "duration" in pause and self.now - status["pauseStartedAt"] >= _seconds(pause["duration"]):
                status.update({"currentStepIndex": status["currentStepIndex"] + 1, "pauseStartedAt": None,
                               "pauseConditions": None, "phase": "Progressing"})
                continue
            status.update({"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "now"}],
                           "phase": "Paused"})
            return
        status.update({"stableRS": desired, "phase": "Healthy", "pauseConditions": None})
