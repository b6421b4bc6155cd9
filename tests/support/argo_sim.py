"""Simulators of Argo CD and Argo Rollouts over the fake Kubernetes API, driven step by step.

Each behaviour follows the real source, named where it is modelled; where unsure, the stricter answer.

* `ArgoCD.sync(app)`: like an auto-sync, reads the Application's path at the head of the
  deployment repo's branch, applies the Rollout in it to the cluster (spec only) and records the
  sync operation (`status.operationState` Succeeded, `syncResult.revision`) and the comparison
  (`status.sync` Synced at that revision). `ArgoCD.compare(app)` is a refresh without a sync (auto-sync
  off, or not yet run): `status.sync.revision` moves to the head — Argo CD sets it to the compared
  revision even while OutOfSync — and nothing is applied. A multi-source Application (`sources`)
  reports `revisions` (one per source) instead of `revision`, in `sync` and in `syncResult`
  (argo-cd pkg/apis/application/v1alpha1/types.go: SyncStatus, SyncOperationResult).
  `status.health` is the Rollout's health by argo-cd resource_customizations/argoproj.io/Rollout/
  health.lua (`rollout_health`), recomputed on every sync, compare and `observe(app)`; a
  `Rollouts(kube, argocd=...)` makes every controller write observed, as Argo CD watches the Rollout.
* `Rollouts.tick(ref, seconds)`: `seconds` pass, then the Argo Rollouts controller reconciles the
  Rollout until it waits on time, a pause or its pods (argo-rollouts rollout/canary.go
  `rolloutCanary` / `syncRolloutStatusCanary`, rollout/sync.go, rollout/pause.go, utils/conditions,
  utils/rollout/rolloututil.go `CalculateRolloutPhase`). The status it writes is the converged one
  of those reconciles. ReplicaSets (`apps/v1/replicasets`, `<rollout>-<pod hash>`, with the
  `rollout.argoproj.io/revision` annotation) are kept in the fake API too; their pods are available
  at once unless `stall(ref)` says the current template's pods never become ready.
  `abort(ref, message)` and `inconclusive(ref)` are the Rollout's own in-cluster analysis ending
  Failed or Inconclusive (rollout/analysis.go `setPauseOrAbort`), acted on by a reconcile at once.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.fake_kube import FakeKube

APPS = "argoproj.io/v1alpha1/applications"
ROLLOUTS = "argoproj.io/v1alpha1/rollouts"
REPLICASETS = "apps/v1/replicasets"

HASH_LABEL = "rollouts-pod-template-hash"  # v1alpha1.DefaultRolloutUniqueLabelKey
REVISION = "rollout.argoproj.io/revision"  # utils/annotations RevisionAnnotation
CANARY_PAUSE = "CanaryPauseStep"  # v1alpha1.PauseReasonCanaryPauseStep
INCONCLUSIVE = "InconclusiveAnalysisRun"  # v1alpha1.PauseReasonInconclusiveAnalysis
PROGRESS_DEADLINE = 600  # utils/defaults DefaultProgressDeadlineSeconds

# utils/conditions/conditions.go: reasons and messages the controller writes.
ABORTED = "RolloutAborted"
TIMED_OUT = "ProgressDeadlineExceeded"  # TimedOutReason
PAUSED = "RolloutPaused"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def _seconds(duration: Any) -> int:
    """RolloutPause.DurationSeconds (pkg/apis/rollouts/v1alpha1/types.go): an int is seconds, a
    string is seconds or a Go duration ("1m30s"), truncated to whole seconds."""
    if isinstance(duration, int):
        return duration
    text = str(duration)
    if text.isdigit():
        return int(text)
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"pause duration {text!r} is not a Go duration")
    return int(sum(float(n) * _GO_UNITS[u] for n, u in parts))


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _safe_encode(text: str) -> str:
    """k8s.io/apimachinery/pkg/util/rand SafeEncodeString: how pod and step hashes are spelled."""
    alphanums = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphanums[ord(c) % len(alphanums)] for c in text)


def _hash(value: Any) -> str:
    """utils/hash ComputePodTemplateHash and conditions.ComputeStepHash: fnv32a, safe-encoded."""
    return _safe_encode(str(_fnv32a(json.dumps(value, sort_keys=True, default=str).encode())))


def _stamp(moment: datetime) -> str:
    """metav1.Time as it is serialized: RFC3339, whole seconds, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def rollout_health(obj: dict[str, Any] | None) -> tuple[str, str]:
    """argo-cd resource_customizations/argoproj.io/Rollout/health.lua: (status, message)."""
    if obj is None:
        return "Missing", ""
    spec, status = obj.get("spec") or {}, obj.get("status")
    waiting = ("Progressing", "Waiting for rollout spec update to be observed")
    if status is None or status.get("observedGeneration") is None:
        return waiting
    observed = str(status["observedGeneration"])
    if observed.isdigit() and int(observed) != int((obj.get("metadata") or {}).get("generation") or 0):
        return waiting
    for condition in status.get("conditions") or []:
        if condition.get("type") == "InvalidSpec":
            return "Degraded", str(condition.get("message", ""))
        if condition.get("type") == "Progressing" and condition.get("reason") in (ABORTED, TIMED_OUT):
            return "Degraded", str(condition.get("message", ""))
    if status.get("pauseConditions") or spec.get("paused"):
        return "Suspended", "Rollout is paused"
    if status.get("currentPodHash") is None:
        return "Progressing", "Waiting for rollout to finish: status has not been reconciled."
    desired = int(spec.get("replicas", 1))
    updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
    if updated < desired:
        return "Progressing", "Waiting for roll out to finish: More replicas need to be updated"
    if available < updated:
        return "Progressing", "Waiting for roll out to finish: updated replicas are still becoming available"
    if int(status.get("replicas", 0)) > updated:
        return "Progressing", "Waiting for roll out to finish: old replicas are pending termination"
    if not status.get("stableRS") or status.get("stableRS") != status.get("currentPodHash"):
        return "Progressing", "Waiting for rollout to finish steps"
    return "Healthy", ""


@dataclass
class ArgoCD:
    kube: FakeKube
    repo: Path  # bare deployment repository
    branch: str = "main"
    paths: dict[str, str] = field(default_factory=dict)  # application ref -> rollout file
    multi: dict[str, str] = field(default_factory=dict)  # application ref -> its second source's revision
    managed: dict[str, str] = field(default_factory=dict)  # application ref -> "ns/name" of its Rollout

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

    def _manifest(self, app: str, head: str) -> dict[str, Any]:
        text = _git(self.repo, "show", f"{head}:{self.paths[app]}")
        manifest = next(d for d in YAML(typ="safe").load_all(text) if d and d.get("kind") == "Rollout")
        meta = manifest["metadata"]
        self.managed[app] = f"{meta.get('namespace', 'default')}/{meta['name']}"
        return dict(manifest)

    def compare(self, app: str) -> str:
        """A refresh: Argo CD compares git's head with the cluster and applies nothing."""
        head = _git(self.repo, "rev-parse", self.branch).strip()
        self._manifest(app, head)
        app_ns, app_name = app.split("/")
        current = self.kube.get(APPS, app_ns, app_name) or {}
        applied = ((current.get("status") or {}).get("operationState") or {}).get("syncResult") or {}
        same = applied.get("revision") == head or (applied.get("revisions") or [None])[0] == head
        self.kube.patch(APPS, app_ns, app_name, {"status": {"sync": {
            "status": "Synced" if same else "OutOfSync", **self._revision_fields(app, head)}}})
        self.observe(app)
        return head

    def sync(self, app: str) -> str:
        head = _git(self.repo, "rev-parse", self.branch).strip()
        manifest = self._manifest(app, head)
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
            "sync": {"status": "Synced", **revisions},
            "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                               "syncResult": revisions}}})
        self.observe(app)
        return head

    def observe(self, app: str) -> str:
        """Argo CD's health of the Application: its one resource's, the Rollout's, by health.lua
        (Missing while no Rollout is there). Returns the health status."""
        ref = self.managed.get(app)
        obj = self.kube.get(ROLLOUTS, *ref.split("/")) if ref else None
        health, _ = rollout_health(obj)
        app_ns, app_name = app.split("/")
        self.kube.patch(APPS, app_ns, app_name, {"status": {"health": {"status": health}}})
        return health

    def observe_rollout(self, ref: str) -> None:
        """Every Application that manages the Rollout `ref` sees its new health."""
        for app, managed in self.managed.items():
            if managed == ref:
                self.observe(app)


def _condition(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def _set_condition(conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str,
                   now: str) -> bool:
    """conditions.SetRolloutCondition: unchanged when status and reason are the same; the transition
    time kept when only the reason changes. True when the condition changed."""
    current = _condition(conditions, kind)
    if current is not None and current["status"] == status and current["reason"] == reason:
        return False
    new = {"type": kind, "status": status, "reason": reason, "message": message, "lastUpdateTime": now,
           "lastTransitionTime": current["lastTransitionTime"] if current and current["status"] == status else now}
    conditions[:] = [c for c in conditions if c.get("type") != kind] + [new]
    return True


def calculate_phase(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """utils/rollout/rolloututil.go CalculateRolloutPhase (the canary half; no restartAt)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {condition.get('message', '')}"
        if condition.get("reason") in (ABORTED, TIMED_OUT):
            return "Degraded", f"{condition['reason']}: {condition.get('message', '')}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    for pause in status.get("pauseConditions") or []:
        return "Paused", str(pause["reason"])
    updated = int(status.get("updatedReplicas", 0))
    if updated < int(spec.get("replicas", 1)):
        return "Progressing", "more replicas need to be updated"
    if int(status.get("availableReplicas", 0)) < updated:
        return "Progressing", "updated replicas are still becoming available"
    canary = (spec.get("strategy") or {}).get("canary") or {}
    if canary.get("trafficRouting") is None and int(status.get("replicas", 0)) > updated:
        return "Progressing", "old replicas are pending termination"
    if not status.get("stableRS") or status.get("stableRS") != status.get("currentPodHash"):
        return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


@dataclass
class _Walk:
    """What one tick's reconciles decide, before it is written as status."""

    index: int | None
    stable: str
    pauses: list[dict[str, Any]]
    controller_pause: bool
    aborted: bool
    abort_message: str = ""


@dataclass
class Rollouts:
    kube: FakeKube
    now: float = 0.0  # seconds since `start`
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    argocd: ArgoCD | None = None  # when set, Argo CD observes every status the controller writes
    _stalled: set[tuple[str, str]] = field(default_factory=set)  # (rollout ref, pod hash)
    _analysis: dict[str, tuple[str, str]] = field(default_factory=dict)  # ref -> (phase, message)
    _hashes: dict[str, list[str]] = field(default_factory=dict)  # ref -> its ReplicaSets' pod hashes

    def clock(self) -> datetime:
        return self.start + timedelta(seconds=self.now)

    # --- what happens around the controller ----------------------------------------------------
    def abort(self, ref: str, message: str = "analysis run failed") -> dict[str, Any]:
        """The Rollout's in-cluster AnalysisRun failed with this `status.message`; the controller
        aborts (rollout/analysis.go setPauseOrAbort → pauseContext.AddAbort(ar.Status.Message)):
        `status.abort`, index 0, the canary scaled down, Progressing False RolloutAborted
        "Rollout aborted update to revision N: <message>", phase Degraded (sync.go
        calculateRolloutConditions, canary.go syncRolloutStatusCanary). A fully promoted Rollout has
        no analysis running, and an abort on it is removed (controller.go newRolloutContext)."""
        self._analysis[ref] = ("Failed", message)
        return self.tick(ref)

    def inconclusive(self, ref: str) -> dict[str, Any]:
        """The Rollout's in-cluster AnalysisRun ended Inconclusive: the controller adds the pause
        condition InconclusiveAnalysisRun (rollout/analysis.go setPauseOrAbort, pause.go
        CalculatePauseStatus: startTime now, controllerPause true) and halts progress until a
        person resumes it or a new template or steps reset it (rollout/context.go haltProgress). The
        simulator completes no step while it stands (the stricter reading), and estimates no progress
        deadline while paused."""
        self._analysis[ref] = ("Inconclusive", "")
        return self.tick(ref)

    def stall(self, ref: str) -> None:
        """The pods of the Rollout's current template never become available (a crash loop, an
        image that never pulls): its ReplicaSet stops progressing. Takes effect on the next tick."""
        ns, name = ref.split("/")
        obj = self.kube.get(ROLLOUTS, ns, name)
        assert obj is not None, ref
        self._stalled.add((ref, _hash(obj["spec"]["template"])))

    # --- the controller ---------------------------------------------------------------------------
    def tick(self, ref: str, seconds: float = 0.0) -> dict[str, Any]:
        self.now += seconds
        now = self.clock()
        ns, name = ref.split("/")
        obj = self.kube.get(ROLLOUTS, ns, name)
        assert obj is not None, ref
        spec, prev = obj["spec"], dict(obj.get("status") or {})
        canary = (spec.get("strategy") or {}).get("canary")
        assert canary is not None, "the simulator runs the canary strategy only"
        steps: list[dict[str, Any]] = canary.get("steps") or []
        desired = _hash(spec["template"])
        step_hash = _hash(steps)
        revision = self._sync_revision(ref, desired)
        walk = self._reset(prev, steps, desired, step_hash)
        self._analyse(ref, walk, desired)
        if walk.aborted:
            self._aborted(walk, steps, desired)
        else:
            self._walk(ref, walk, spec, steps, desired, now)
        status = self._counted(ref, obj, walk, steps, desired, step_hash)
        if self._conditions(prev, status, walk, spec=spec, steps=steps, revision=revision, name=name, now=now):
            # spec.progressDeadlineAbort: the timeout adds an abort (sync.go calculateRolloutConditions);
            # the next reconcile acts on it.
            walk.aborted = True
            self._aborted(walk, steps, desired)
            timed_out, status = status, self._counted(ref, obj, walk, steps, desired, step_hash)
            self._conditions(timed_out, status, walk, spec=spec, steps=steps, revision=revision, name=name,
                             now=now)
        if walk.aborted:  # pause.go CalculatePauseStatus: an abort keeps its first time
            status.update({"abort": True, "abortedAt": prev.get("abortedAt") or _stamp(now)})
        elif walk.pauses:
            status.update({"pauseConditions": walk.pauses, "controllerPause": walk.controller_pause})
        status["phase"], message = calculate_phase(spec, status)
        if message:
            status["message"] = message
        obj["status"] = status
        obj["metadata"].setdefault("annotations", {})[REVISION] = str(revision)  # sync.go setRolloutRevision
        stored = self.kube.put(ROLLOUTS, obj)
        if self.argocd is not None:
            self.argocd.observe_rollout(ref)
        return stored

    def _counted(self, ref: str, obj: dict[str, Any], walk: _Walk, steps: list[dict[str, Any]], desired: str,
                 step_hash: str) -> dict[str, Any]:
        """The status's hashes, index and replica counts (sync.go calculateBaseStatus)."""
        counts = self._scale(ref, walk, steps, desired, int(obj["spec"].get("replicas", 1)))
        available = sum(n for h, n in counts.items() if (ref, h) not in self._stalled)
        status: dict[str, Any] = {
            "HPAReplicas": sum(counts.values()), "replicas": sum(counts.values()),
            "updatedReplicas": counts.get(desired, 0), "readyReplicas": available, "availableReplicas": available,
            "currentPodHash": desired, "currentStepHash": step_hash, "stableRS": walk.stable,
            "observedGeneration": str(obj["metadata"].get("generation", 0))}
        if walk.index is not None:
            status["currentStepIndex"] = walk.index
        return status

    def _sync_revision(self, ref: str, desired: str) -> int:
        """sync.go getAllReplicaSetsAndSyncRevision: the desired template's ReplicaSet is created
        with the next revision, or moved to it when an older one is reused (a rollback)."""
        ns, name = ref.split("/")
        hashes = self._hashes.setdefault(ref, [])
        revisions = {h: int(self.kube.get(REPLICASETS, ns, f"{name}-{h}")["metadata"]["annotations"][REVISION])
                     for h in hashes}
        top = max(revisions.values(), default=0)
        if desired in revisions and revisions[desired] == top:
            return top
        if desired not in revisions:
            hashes.append(desired)
            self.kube.put(REPLICASETS, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{name}-{desired}", "namespace": ns, "labels": {HASH_LABEL: desired},
                             "annotations": {REVISION: str(top + 1)},
                             "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                                  "name": name, "controller": True}]},
                "spec": {"replicas": 0}, "status": {"replicas": 0}})
        else:
            self.kube.patch(REPLICASETS, ns, f"{name}-{desired}",
                            {"metadata": {"annotations": {REVISION: str(top + 1)}}})
        return top + 1

    def _reset(self, prev: dict[str, Any], steps: list[dict[str, Any]], desired: str, step_hash: str) -> _Walk:
        stable = prev.get("stableRS")
        walk = _Walk(index=prev.get("currentStepIndex"), stable=stable or desired,
                     pauses=[dict(p) for p in prev.get("pauseConditions") or []],
                     controller_pause=bool(prev.get("controllerPause")), aborted=bool(prev.get("abort")))
        count = len(steps)
        if stable is None:
            # sync.go shouldFullPromote "Initial deploy": the first template is stable at once, no steps.
            walk.index, walk.pauses, walk.controller_pause, walk.aborted = count or None, [], False, False
        elif prev.get("currentStepHash") != step_hash or prev.get("currentPodHash") != desired:
            # canary.go syncRolloutStatusCanary: PodTemplateOrStepsChanged → resetRolloutStatus (pause
            # conditions cleared, abort removed, index 0); back on the stable ReplicaSet the index jumps
            # to the end ("Rollback to stable ReplicaSets", SkipSteps).
            walk.pauses, walk.controller_pause, walk.aborted = [], False, False
            walk.index = (count if desired == stable else 0) if count else None
        if walk.aborted and desired == walk.stable:
            walk.aborted = False  # controller.go newRolloutContext: no abort on a fully promoted Rollout
        return walk

    def _analyse(self, ref: str, walk: _Walk, desired: str) -> None:
        """rollout/analysis.go reconcileAnalysisRuns: skipped when aborted or fully promoted."""
        result = self._analysis.pop(ref, None)
        if result is None or walk.aborted or desired == walk.stable:
            return
        phase, message = result
        if phase == "Failed":
            walk.aborted, walk.abort_message = True, message
        elif not any(p["reason"] == INCONCLUSIVE for p in walk.pauses):
            walk.pauses.append({"reason": INCONCLUSIVE, "startTime": _stamp(self.clock())})
            walk.controller_pause = True

    def _aborted(self, walk: _Walk, steps: list[dict[str, Any]], desired: str) -> None:
        """canary.go syncRolloutStatusCanary when aborted: index 0 (the end when back on stable);
        pause.go CalculatePauseStatus: an abort clears the pause conditions and controllerPause."""
        walk.pauses, walk.controller_pause = [], False
        walk.index = (len(steps) if desired == walk.stable else 0) if steps else None

    def _walk(self, ref: str, walk: _Walk, spec: dict[str, Any], steps: list[dict[str, Any]], desired: str,
              now: datetime) -> None:
        """The reconciles of one tick: each completes at most the current step (canary.go
        completedCurrentCanaryStep, reconcileCanaryPause; pause.go CompletedCanaryPauseStep)."""
        stalled = (ref, desired) in self._stalled
        count = len(steps)
        while True:
            if spec.get("paused") or any(p["reason"] == INCONCLUSIVE for p in walk.pauses):
                return  # context.go haltProgress; canary.go completedCurrentCanaryStep: spec.paused
            index = walk.index if walk.index is not None else count
            if index >= count:
                # sync.go shouldFullPromote "Completed all N canary steps" needs the new ReplicaSet
                # fully available; promoteStable clears the pause conditions.
                if not stalled:
                    walk.stable, walk.pauses, walk.controller_pause = desired, [], False
                    walk.index = count or None
                return
            if walk.stable == desired:
                walk.index = count
                continue
            step = steps[index]
            if "setWeight" in step:
                # utils/replicaset AtDesiredReplicaCountsForCanary: the canary's pods at the weight
                # must be available.
                if stalled and math.ceil(int(step["setWeight"]) * int(spec.get("replicas", 1)) / 100) > 0:
                    return
                walk.index = index + 1
                continue
            if "pause" in step:
                pause = next((p for p in walk.pauses if p["reason"] == CANARY_PAUSE), None)
                if pause is None:
                    if walk.controller_pause:  # CompletedCanaryPauseStep: a person resumed it
                        walk.controller_pause, walk.index = False, index + 1
                        continue
                    walk.pauses.append({"reason": CANARY_PAUSE, "startTime": _stamp(now)})
                    walk.controller_pause = True
                    return
                duration = (step["pause"] or {}).get("duration")
                # CompletedCanaryPauseStep: now.After(startTime + duration). A tick that reaches the
                # expiry stands for the reconcile the controller enqueues at it
                # (checkEnqueueRolloutDuringWait), which runs just after it.
                if duration is None or now < _parse(pause["startTime"]) + timedelta(seconds=_seconds(duration)):
                    return
                walk.pauses = [p for p in walk.pauses if p["reason"] != CANARY_PAUSE]
                if not walk.pauses:
                    walk.controller_pause = False
                walk.index = index + 1
                continue
            raise NotImplementedError(f"the Rollouts simulator does not run the step {step}")

    def _scale(self, ref: str, walk: _Walk, steps: list[dict[str, Any]], desired: str,
               replicas: int) -> dict[str, int]:
        """Replica counts per pod hash. A basic canary (no trafficRouting) runs the current weight's
        share of the replicas, rounded up, on the canary and the rest on stable (utils/replicaset/canary.go
        CalculateReplicaCountsForBasicCanary also weighs surge; the exact split is not modelled).
        An abort scales the canary to 0; a promoted Rollout runs all on stable."""
        ns, name = ref.split("/")
        counts = dict.fromkeys(self._hashes[ref], 0)
        if walk.stable == desired:
            counts[desired] = replicas
        else:
            weight = 0
            if not walk.aborted:
                index = walk.index if walk.index is not None else len(steps)
                weight = 100 if index >= len(steps) else 0
                for step in steps[:index + 1]:
                    weight = int(step.get("setWeight", weight))
            counts[desired] = math.ceil(weight * replicas / 100)
            counts[walk.stable] = replicas - counts[desired]
        for pod_hash, number in counts.items():
            ready = 0 if (ref, pod_hash) in self._stalled else number
            self.kube.patch(REPLICASETS, ns, f"{name}-{pod_hash}", {
                "spec": {"replicas": number},
                "status": {"replicas": number, "readyReplicas": ready, "availableReplicas": ready}})
        return counts

    def _conditions(self, prev: dict[str, Any], status: dict[str, Any], walk: _Walk, *, spec: dict[str, Any],
                    steps: list[dict[str, Any]], revision: int, name: str, now: datetime) -> bool:
        """sync.go calculateRolloutConditions and checkPausedConditions, as they settle after the
        tick's reconciles. True when a progress deadline adds an abort (progressDeadlineAbort)."""
        deadline_abort = False
        stamp = _stamp(now)
        conditions = [dict(c) for c in prev.get("conditions") or []]
        replicas = int(spec.get("replicas", 1))
        paused = bool(walk.pauses) or bool(spec.get("paused"))
        rs_name = f"{name}-{status['currentPodHash']}"
        count = len(steps)
        # conditions.RolloutHealthy (canary): all updated and available, every step executed, the
        # current ReplicaSet stable, old replicas gone, the generation observed.
        healthy = (status["updatedReplicas"] == replicas and status["availableReplicas"] == replicas
                   and (count == 0 or walk.index == count) and status["stableRS"] == status["currentPodHash"]
                   and status["replicas"] == replicas)
        became_unhealthy = False
        if not paused and healthy:
            _set_condition(conditions, "Healthy", "True", "RolloutHealthy", "Rollout is healthy", stamp)
        elif _condition(conditions, "Healthy") is not None:
            became_unhealthy = _set_condition(conditions, "Healthy", "False", "RolloutHealthy",
                                              "Rollout is not healthy", stamp)
        # conditions.RolloutProgressing (canary): a new stable, a step index change, a steps change,
        # updated replicas changing, ready or available replicas rising.
        progressed = (status["stableRS"] != prev.get("stableRS")
                      or (walk.index != prev.get("currentStepIndex") and walk.index is not None
                          and prev.get("currentStepIndex") is not None)
                      or status["currentStepHash"] != prev.get("currentStepHash")
                      or status["updatedReplicas"] != prev.get("updatedReplicas", 0)
                      or status["replicas"] - status["updatedReplicas"]
                      < prev.get("replicas", 0) - prev.get("updatedReplicas", 0)
                      or status["readyReplicas"] > prev.get("readyReplicas", 0)
                      or status["availableReplicas"] > prev.get("availableReplicas", 0))
        current = _condition(conditions, "Progressing")
        if not walk.aborted and current is not None and current["reason"] == ABORTED:
            # checkPausedConditions: the abort was removed (a new template or steps).
            _set_condition(conditions, "Progressing", "Unknown", "RolloutRetry", "Retrying Rollout after abort",
                           stamp)
        if walk.aborted:
            message = f"Rollout aborted update to revision {revision}"
            if walk.abort_message:
                message = f"{message}: {walk.abort_message}"
            _set_condition(conditions, "Progressing", "False", ABORTED, message, stamp)
        elif healthy:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{rs_name}" has successfully progressed.', stamp)
        elif paused:
            # checkPausedConditions, on the reconcile after the pause: Progressing Unknown RolloutPaused.
            # No progress deadline is estimated while paused (conditions.go RolloutPausedReason).
            _set_condition(conditions, "Progressing", "Unknown", PAUSED, "Rollout is paused", stamp)
        elif progressed or became_unhealthy:
            current = _condition(conditions, "Progressing")
            fresh = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                     "message": f'ReplicaSet "{rs_name}" is progressing.', "lastUpdateTime": stamp,
                     "lastTransitionTime": current["lastTransitionTime"]
                     if current and current["status"] == "True" else stamp}
            conditions[:] = [c for c in conditions if c.get("type") != "Progressing"] + [fresh]
        else:
            current = _condition(conditions, "Progressing")
            index = walk.index if walk.index is not None else count
            indefinite = index < count and any(k in steps[index] for k in ("pause", "analysis", "experiment"))
            deadline = int(spec.get("progressDeadlineSeconds", PROGRESS_DEADLINE))
            # conditions.RolloutTimedOut: lastUpdateTime + progressDeadlineSeconds before now.
            if (current is not None and current["reason"] != ABORTED and not indefinite
                    and (current["reason"] == TIMED_OUT
                         or _parse(current["lastUpdateTime"]) + timedelta(seconds=deadline) < now)):
                message = f'ReplicaSet "{rs_name}" has timed out progressing.'
                _set_condition(conditions, "Progressing", "False", TIMED_OUT, message, stamp)
                # ProgressDeadlineAbort: an abort is added when the condition changes, or later when
                # the field is set after the timeout and nothing aborted yet (never the case here).
                deadline_abort = bool(spec.get("progressDeadlineAbort"))
        progressing = _condition(conditions, "Progressing")
        abort_condition = progressing is not None and progressing["reason"] == ABORTED
        paused_condition = _condition(conditions, "Paused")
        if paused != (paused_condition is not None and paused_condition["status"] == "True") and not abort_condition:
            _set_condition(conditions, "Paused", "True" if paused else "False", PAUSED, "Rollout is paused", stamp)
        if status["availableReplicas"] >= replicas:
            _set_condition(conditions, "Available", "True", "AvailableReason", "Rollout has minimum availability",
                           stamp)
        else:
            _set_condition(conditions, "Available", "False", "AvailableReason",
                           "Rollout does not have minimum availability", stamp)
        completed = "True" if status["stableRS"] == status["currentPodHash"] else "False"
        _set_condition(conditions, "Completed", completed, "RolloutCompleted", "RolloutCompleted", stamp)
        status["conditions"] = conditions
        return deadline_abort
