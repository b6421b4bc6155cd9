"""The Argo CD and Argo Rollouts simulators held to what the real controllers do, read straight
from the fake kube-apiserver (argo-rollouts rollout/canary.go, sync.go, pause.go, utils/conditions,
utils/rollout/rolloututil.go; argo-cd resource_customizations/argoproj.io/Rollout/health.lua)."""

from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.support.argo_sim import APPS, REPLICASETS, ROLLOUTS, ArgoCD, Rollouts
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import HumanClone, remote_file
from tests.support.world import ROLLOUT, deploy_remote

APP, RO = "argocd/web-dev", "shop/web"
IMAGE = "reg.local/acme/web"


@dataclass
class Sim:
    kube: FakeKube
    argocd: ArgoCD
    rollouts: Rollouts
    human: HumanClone

    def edit(self, old: str, new: str, count: int = -1) -> None:
        text = remote_file(self.argocd.repo, ROLLOUT)
        assert old in text, old
        self.human.commit(ROLLOUT, text.replace(old, new, count), f"{old} -> {new}")

    def apply(self, seconds: float = 0.0) -> dict:
        """Argo CD syncs the head; the controller reconciles after `seconds`."""
        self.argocd.sync(APP)
        return self.rollouts.tick(RO, seconds)["status"]

    def tick(self, seconds: float = 0.0) -> dict:
        return self.rollouts.tick(RO, seconds)["status"]

    def health(self) -> str:
        return self.kube.get(APPS, "argocd", "web-dev")["status"]["health"]["status"]

    def replicas(self, pod_hash: str) -> int:
        return self.kube.get(REPLICASETS, "shop", f"web-{pod_hash}")["spec"]["replicas"]

    def revision(self, pod_hash: str) -> str:
        return self.kube.get(REPLICASETS, "shop", f"web-{pod_hash}")["metadata"]["annotations"][
            "rollout.argoproj.io/revision"]

    def stamp(self, later: float = 0.0) -> str:
        return (self.rollouts.clock() + timedelta(seconds=later)).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


@pytest.fixture
def sim(tmp_path):
    remote = deploy_remote(tmp_path, image=IMAGE)
    with FakeKube() as kube:
        argocd = ArgoCD(kube, remote)
        argocd.add(APP, ROLLOUT)
        s = Sim(kube, argocd, Rollouts(kube, argocd=argocd), HumanClone(remote, tmp_path / "human"))
        s.apply()
        yield s


def release(sim: Sim, tag: str = "v1.1.0") -> dict:
    sim.edit("web:v1.0.0", f"web:{tag}")
    status = sim.apply()
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 1)
    return status


def test_the_first_template_is_stable_at_once_and_healthy(sim):
    status = sim.kube.get(ROLLOUTS, "shop", "web")["status"]
    assert (status["phase"], status["currentStepIndex"], status["stableRS"]) == ("Healthy", 6, status["currentPodHash"])
    assert "message" not in status and "pauseConditions" not in status and "controllerPause" not in status
    assert status["currentStepHash"] and status["observedGeneration"] == "1"
    assert conditions(status) == {"Healthy": ("True", "RolloutHealthy"), "Available": ("True", "AvailableReason"),
                                  "Progressing": ("True", "NewReplicaSetAvailable"),
                                  "Completed": ("True", "RolloutCompleted")}
    assert sim.revision(status["currentPodHash"]) == "1" and sim.health() == "Healthy"


def test_a_canary_pause_has_its_real_status(sim):
    status = release(sim)
    assert status["message"] == "CanaryPauseStep" and status["controllerPause"] is True
    assert status["pauseConditions"] == [{"reason": "CanaryPauseStep", "startTime": sim.stamp()}]
    assert conditions(status) == {"Healthy": ("False", "RolloutHealthy"), "Available": ("True", "AvailableReason"),
                                  "Progressing": ("Unknown", "RolloutPaused"), "Paused": ("True", "RolloutPaused"),
                                  "Completed": ("False", "RolloutCompleted")}
    assert (status["updatedReplicas"], status["replicas"]) == (1, 4)  # setWeight 20 of 4 replicas
    assert sim.revision(status["currentPodHash"]) == "2" and sim.health() == "Suspended"


def test_a_steps_change_starts_the_canary_over_with_a_new_pause(sim):
    first = release(sim)
    sim.tick(5)  # the gate waits; time passes
    sim.edit("pause: {}              # gate at step 1", "pause: {duration: 10s} # gate at step 1")
    status = sim.apply()
    assert status["currentStepHash"] != first["currentStepHash"]
    assert status["currentStepIndex"] == 1  # from 0 again: setWeight 20, then the 10s pause
    assert status["pauseConditions"] == [{"reason": "CanaryPauseStep", "startTime": sim.stamp()}]
    assert status["pauseConditions"] != first["pauseConditions"]  # restarted, not carried over
    assert sim.tick(5)["currentStepIndex"] == 1  # 10s from the new start, not the old one
    status = sim.tick(5)
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 3)  # the 30s pause
    sim.edit("pause: {}              # gate at step 5", "pause: {duration: 10s} # gate at step 5")
    status = sim.apply()
    assert (status["currentStepIndex"], status["pauseConditions"][0]["startTime"]) == (1, sim.stamp())


def test_the_template_back_on_stable_jumps_to_the_end(sim):
    stable = sim.kube.get(ROLLOUTS, "shop", "web")["status"]["stableRS"]
    canary = release(sim)["currentPodHash"]
    sim.edit("web:v1.1.0", "web:v1.0.0")
    status = sim.apply()
    assert (status["phase"], status["currentStepIndex"], status["currentPodHash"]) == ("Healthy", 6, stable)
    assert "pauseConditions" not in status and "message" not in status
    assert (sim.replicas(stable), sim.replicas(canary)) == (4, 0)
    assert sim.revision(stable) == "3"  # the old ReplicaSet is the newest revision again
    assert sim.health() == "Healthy"


def test_an_abort_degrades_and_a_new_template_clears_it(sim):
    canary = release(sim)["currentPodHash"]
    status = sim.rollouts.abort(RO, 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)')[
        "status"]
    assert (status["abort"], status["phase"], status["currentStepIndex"]) == (True, "Degraded", 0)
    assert status["message"] == ('RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" '
                                 "assessed Failed due to failed (1) > failureLimit (0)")
    assert status["abortedAt"] == sim.stamp() and "pauseConditions" not in status and "controllerPause" not in status
    assert conditions(status)["Progressing"] == ("False", "RolloutAborted")
    assert sim.replicas(canary) == 0 and sim.health() == "Degraded"
    assert sim.tick(30)["message"] == status["message"]  # it stays aborted

    sim.edit("web:v1.1.0", "web:v1.2.0")
    status = sim.apply()
    assert "abort" not in status and "abortedAt" not in status
    assert (status["phase"], status["currentStepIndex"], status["message"]) == ("Paused", 1, "CanaryPauseStep")
    assert sim.health() == "Suspended"


def test_a_stuck_canary_exceeds_its_progress_deadline_without_an_abort(sim):
    sim.edit("web:v1.0.0", "web:v1.1.0")
    sim.argocd.sync(APP)
    sim.rollouts.stall(RO)  # the new pods never become ready
    status = sim.tick()
    assert (status["phase"], status["message"], status["currentStepIndex"]) == (
        "Progressing", "more replicas need to be updated", 0)
    assert sim.health() == "Progressing"
    assert sim.tick(600)["phase"] == "Progressing"  # the deadline is passed only after 600s (RolloutTimedOut)
    status = sim.tick(1)
    message = f'ReplicaSet "web-{status["currentPodHash"]}" has timed out progressing.'
    assert (status["phase"], status["message"]) == ("Degraded", f"ProgressDeadlineExceeded: {message}")
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False", "ProgressDeadlineExceeded", message)
    assert "abort" not in status and status["currentStepIndex"] == 0
    assert sim.health() == "Degraded"

    sim.edit("web:v1.1.0", "web:v1.2.0")  # a new template makes progress again
    assert sim.apply()["phase"] == "Paused"


def test_progress_deadline_abort_aborts_after_its_own_deadline(sim):
    sim.edit("  strategy:\n", "  progressDeadlineSeconds: 30\n  progressDeadlineAbort: true\n  strategy:\n", 1)
    sim.apply()
    sim.edit("web:v1.0.0", "web:v1.1.0")
    sim.argocd.sync(APP)
    sim.rollouts.stall(RO)
    sim.tick()
    assert sim.tick(30)["phase"] == "Progressing"
    status = sim.tick(1)
    assert (status["abort"], status["phase"], status["currentStepIndex"]) == (True, "Degraded", 0)
    assert status["message"] == "RolloutAborted: Rollout aborted update to revision 2"


def test_an_inconclusive_analysis_pauses_until_a_new_template(sim):
    sim.edit("web:v1.0.0", "web:v1.1.0")
    sim.argocd.sync(APP)
    sim.rollouts.stall(RO)
    sim.tick()  # stuck at setWeight 20, not at a pause step
    status = sim.rollouts.inconclusive(RO)["status"]
    assert (status["phase"], status["message"], status["controllerPause"]) == (
        "Paused", "InconclusiveAnalysisRun", True)
    assert status["pauseConditions"] == [{"reason": "InconclusiveAnalysisRun", "startTime": sim.stamp()}]
    assert sim.health() == "Suspended"
    status = sim.tick(700)
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 0)  # halted; no deadline while paused

    sim.edit("web:v1.1.0", "web:v1.2.0")
    status = sim.apply()
    assert [p["reason"] for p in status["pauseConditions"]] == ["CanaryPauseStep"]


def test_an_inconclusive_analysis_at_a_gate_adds_its_pause_after_the_step_pause(sim):
    release(sim)
    status = sim.rollouts.inconclusive(RO)["status"]
    assert [p["reason"] for p in status["pauseConditions"]] == ["CanaryPauseStep", "InconclusiveAnalysisRun"]
    assert status["message"] == "CanaryPauseStep"  # CalculateRolloutPhase names the first pause condition


def test_application_health_follows_the_rollout(sim):
    sim.edit("web:v1.0.0", "web:v1.1.0")
    sim.argocd.sync(APP)
    assert sim.health() == "Progressing"  # the controller has not observed the new spec yet
    sim.tick()
    assert sim.health() == "Suspended"  # paused at gate 1
    sim.edit("pause: {}", "pause: {duration: 10s}")
    sim.apply()
    assert sim.health() == "Suspended"  # the 10s pause
    sim.tick(10)
    sim.tick(30)
    status = sim.tick(10)
    assert (status["phase"], status["currentStepIndex"]) == ("Healthy", 6)
    assert conditions(status)["Healthy"] == ("True", "RolloutHealthy")
    assert conditions(status)["Paused"] == ("False", "RolloutPaused")
    assert sim.health() == "Healthy"
