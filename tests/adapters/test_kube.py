"""The kube adapter with the real kubernetes client against the fake API server and the
Argo CD / Argo Rollouts simulators."""

import threading
import time

import pytest

from gitops_promoter.adapters.kube import ClusterRejected, KubeCluster, rollout_view
from gitops_promoter.config.schema import ClusterConfig, SecretRef
from tests.conftest import FIXTURES
from tests.support.argo_sim import APPS, ArgoCD, Rollouts
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import make_remote

ROLLOUT = "envs/dev/web/rollout.yaml"


@pytest.fixture
def cluster(tmp_path):
    with FakeKube(token="test-token") as kube:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(f"""\
apiVersion: v1
kind: Config
clusters: [{{name: test, cluster: {{server: "{kube.url}"}}}}]
users: [{{name: test, user: {{token: test-token}}}}]
contexts: [{{name: test, context: {{cluster: test, user: test}}}}]
current-context: test
""")
        remote = make_remote(tmp_path, FIXTURES / "repos" / "deploy")
        argocd = ArgoCD(kube, remote)
        argocd.add("argocd/web-dev", ROLLOUT)
        observer = KubeCluster(ClusterConfig("dev", kubeconfig=SecretRef("file", str(kubeconfig), "t"), context="test"),
                               sleep=lambda s: None)
        yield kube, argocd, Rollouts(kube), observer


def test_application_and_rollout_views(cluster):
    kube, argocd, rollouts, observer = cluster
    head = argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    app = observer.application("argocd/web-dev")
    assert (app.revision, app.sync) == (head, "Synced")
    view = observer.rollout("shop/web")
    assert (view.phase, view.step_index, view.paused_at_step) == ("Healthy", 6, False)
    assert view.images == ("127.0.0.1:5000/acme/web:v1.0.0", "envoyproxy/envoy:v1.29.1")


def test_refresh_annotation(cluster):
    kube, argocd, _, observer = cluster
    observer.refresh("argocd/web-dev")
    assert kube.get(APPS, "argocd", "web-dev")["metadata"]["annotations"] == {"argocd.argoproj.io/refresh": "normal"}


def degrade_soon(kube):
    """The Rollout turns Degraded half a second from now (while a watch waits for it)."""

    def later():
        time.sleep(0.5)
        kube.patch("argoproj.io/v1alpha1/rollouts", "shop", "web", {"status": {"phase": "Degraded"}})

    threading.Thread(target=later, daemon=True).start()


def test_missing_rollout_is_rejected(cluster):
    *_, observer = cluster
    with pytest.raises(ClusterRejected, match="cluster dev: get rollout shop/nope: HTTP 404"):
        observer.rollout("shop/nope")


def test_wait_rollout_follows_the_watch_and_survives_dropped_streams(cluster):
    kube, argocd, rollouts, observer = cluster
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    kube.fail_watches = 2  # the first two watch streams end at once

    degrade_soon(kube)
    view = observer.wait_rollout("shop/web", lambda v: v.phase == "Degraded", timeout=10)
    assert view is not None and view.phase == "Degraded"
    assert sum(1 for line in kube.log if "watch=true" in line) >= 3


def test_wait_rollout_times_out(cluster):
    kube, argocd, rollouts, observer = cluster
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    assert observer.wait_rollout("shop/web", lambda v: v.phase == "Degraded", timeout=1.5) is None


def test_a_wrong_token_is_401_and_permanent(cluster, tmp_path):
    kube, *_ = cluster
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text((tmp_path / "kubeconfig").read_text().replace("test-token", "stolen"))
    observer = KubeCluster(ClusterConfig("dev", kubeconfig=SecretRef("file", str(bad), "t"), context="test"),
                           sleep=lambda s: None)
    with pytest.raises(ClusterRejected, match="HTTP 401"):
        observer.rollout("shop/web")


def test_a_watch_from_a_compacted_revision_gets_410_and_starts_over(cluster):
    kube, argocd, rollouts, observer = cluster
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    kube.keep_events = 3
    for n in range(6):  # other writes compact the history past what the watcher knows
        kube.patch(APPS, "argocd", "web-dev", {"metadata": {"annotations": {"n": str(n)}}})

    real = observer.api.list_namespaced_custom_object
    old = {"rv": None}

    def from_an_old_revision(*args, **kwargs):
        if old["rv"] is None and kwargs.get("resource_version"):
            old["rv"] = kwargs["resource_version"] = "101"  # long compacted
        return real(*args, **kwargs)

    observer.api.list_namespaced_custom_object = from_an_old_revision
    degrade_soon(kube)
    view = observer.wait_rollout("shop/web", lambda v: v.phase == "Degraded", timeout=10)
    assert view is not None and view.phase == "Degraded"
    assert old["rv"] == "101"  # the first watch asked from a compacted revision (410) ...
    assert sum(1 for line in kube.log if "watch=true" in line) >= 2  # ... and the adapter started over


# --- rollout_view on statuses shaped as the real controller writes them ---------------------------
# Shapes copied from argo-cd resource_customizations/argoproj.io/Rollout/testdata (suspended_v1.0_pausedRollout,
# degraded_rolloutTimeout, degraded_abortedRollout) and from what argo-rollouts v1.x writes for the same cases
# (utils/conditions/conditions.go messages, utils/rollout/rolloututil.go CalculateRolloutPhase).


def _rollout(status, generation=5):
    return {"metadata": {"name": "web", "namespace": "shop", "generation": generation},
            "spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "web", "image": "acme/web:v1.1.0"}]}},
                     "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}},
            "status": status}


def _condition(kind, status, reason, message, when="2026-11-23T10:00:00Z"):
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastUpdateTime": when,
            "lastTransitionTime": when}


AVAILABLE = _condition("Available", "True", "AvailableReason", "Rollout has minimum availability")
TIMED_OUT = 'ReplicaSet "web-6b8cf6f7db" has timed out progressing.'

PAUSED_AT_STEP = {  # suspended_v1.0_pausedRollout.yaml
    "HPAReplicas": 6, "availableReplicas": 6, "blueGreen": {}, "canary": {},
    "conditions": [_condition("Completed", "False", "RolloutCompleted", "RolloutCompleted"), AVAILABLE,
                   _condition("Progressing", "Unknown", "RolloutPaused", "Rollout is paused"),
                   _condition("Paused", "True", "RolloutPaused", "Rollout is paused")],
    "controllerPause": True, "currentPodHash": "8566c77b97", "currentStepHash": "7d5979db69", "currentStepIndex": 1,
    "message": "CanaryPauseStep", "observedGeneration": "5",
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2021-07-15T21:08:55Z"}], "phase": "Paused",
    "readyReplicas": 6, "replicas": 6, "selector": "app=rollouts-demo", "stableRS": "77f4f8ff97", "updatedReplicas": 2}

INCONCLUSIVE = {  # the Rollout's own analysis inconclusive (rollout/analysis.go setPauseOrAbort)
    **PAUSED_AT_STEP, "currentStepIndex": 0, "message": "InconclusiveAnalysisRun",
    "pauseConditions": [{"reason": "InconclusiveAnalysisRun", "startTime": "2026-11-23T10:00:00Z"}]}

DEADLINE = {  # v1.x: a canary whose new ReplicaSet stopped progressing, no abort
    "HPAReplicas": 4, "availableReplicas": 3, "currentPodHash": "6b8cf6f7db", "currentStepHash": "7d5979db69",
    "currentStepIndex": 0, "observedGeneration": "5", "readyReplicas": 3, "replicas": 4, "stableRS": "8464d8564d",
    "updatedReplicas": 1, "phase": "Degraded", "message": f"ProgressDeadlineExceeded: {TIMED_OUT}",
    "conditions": [AVAILABLE, _condition("Progressing", "False", "ProgressDeadlineExceeded", TIMED_OUT)]}

DEADLINE_PRE_V1 = {  # degraded_rolloutTimeout.yaml: no phase or message, observedGeneration a spec hash
    "HPAReplicas": 3, "availableReplicas": 3, "blueGreen": {"activeSelector": "8464d8564d"}, "canary": {},
    "conditions": [AVAILABLE, _condition("Progressing", "False", "ProgressDeadlineExceeded", TIMED_OUT)],
    "currentPodHash": "6b8cf6f7db", "observedGeneration": "7bcdbf7bd9", "readyReplicas": 3, "replicas": 4,
    "updatedReplicas": 1}

ABORTED = {  # v1.x: an AnalysisRun failed (calculateRolloutConditions: RolloutAbortedMessage + the run's message)
    **DEADLINE, "abort": True, "abortedAt": "2026-11-23T10:00:00Z", "phase": "Degraded",
    "message": 'RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due to '
               "failed (1) > failureLimit (0)",
    "conditions": [AVAILABLE, _condition("Progressing", "False", "RolloutAborted",
                                         'Rollout aborted update to revision 2: Metric "success-rate" assessed Failed '
                                         "due to failed (1) > failureLimit (0)")]}


@pytest.mark.parametrize(("status", "expected"), [
    pytest.param(PAUSED_AT_STEP, ("Paused", 1, True, ("CanaryPauseStep",), True, False, "CanaryPauseStep", 5),
                 id="paused-at-a-canary-step"),
    pytest.param(INCONCLUSIVE, ("Paused", 0, False, ("InconclusiveAnalysisRun",), True, False,
                                "InconclusiveAnalysisRun", 5), id="inconclusive-analysis-is-not-a-step-pause"),
    pytest.param(DEADLINE, ("Degraded", 0, False, (), False, False, f"ProgressDeadlineExceeded: {TIMED_OUT}", 5),
                 id="progress-deadline-degrades-without-abort"),
    pytest.param({**DEADLINE, "message": ""},
                 ("Degraded", 0, False, (), False, False, f"ProgressDeadlineExceeded: {TIMED_OUT}", 5),
                 id="no-message-takes-the-deadline-condition"),
    pytest.param(DEADLINE_PRE_V1, ("Degraded", None, False, (), False, False,
                                   f"ProgressDeadlineExceeded: {TIMED_OUT}", 5),
                 id="pre-v1-status-degraded-from-its-conditions-and-a-hash-generation-is-observed"),
    pytest.param(ABORTED, ("Degraded", 0, False, (), False, True, ABORTED["message"], 5), id="aborted"),
])
def test_rollout_view_reads_the_real_status(status, expected):
    view = rollout_view(_rollout(status))
    assert (view.phase, view.step_index, view.paused_at_step, view.pause_reasons, view.controller_pause,
            view.aborted, view.message, view.observed_generation) == expected
    assert view.generation == 5 and view.images == ("acme/web:v1.1.0",)


def test_a_stalled_canary_reads_degraded_by_its_deadline_through_the_client(cluster, tmp_path):
    from tests.support.gitremote import HumanClone, remote_file

    kube, argocd, rollouts, observer = cluster
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    human = HumanClone(argocd.repo, tmp_path / "human")
    human.commit(ROLLOUT, remote_file(argocd.repo, ROLLOUT).replace("web:v1.0.0", "web:v1.1.0"), "bump")
    argocd.sync("argocd/web-dev")
    rollouts.stall("shop/web")  # the new pods never become ready: setWeight 20 is never reached
    rollouts.tick("shop/web")
    assert observer.rollout("shop/web").phase == "Progressing"
    rollouts.tick("shop/web", 601)
    view = observer.rollout("shop/web")
    status = kube.get("argoproj.io/v1alpha1/rollouts", "shop", "web")["status"]
    assert (view.phase, view.aborted, view.step_index) == ("Degraded", False, 0)
    assert view.message == f'ProgressDeadlineExceeded: ReplicaSet "web-{status["currentPodHash"]}" has timed out ' \
                           "progressing."


def test_an_inconclusive_analysis_reads_as_its_pause_through_the_client(cluster, tmp_path):
    from tests.support.gitremote import HumanClone, remote_file

    kube, argocd, rollouts, observer = cluster
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    human = HumanClone(argocd.repo, tmp_path / "human")
    human.commit(ROLLOUT, remote_file(argocd.repo, ROLLOUT).replace("web:v1.0.0", "web:v1.1.0"), "bump")
    argocd.sync("argocd/web-dev")
    rollouts.tick("shop/web")
    rollouts.inconclusive("shop/web")
    view = observer.rollout("shop/web")
    assert (view.phase, view.message, view.controller_pause) == ("Paused", "CanaryPauseStep", True)
    assert view.pause_reasons == ("CanaryPauseStep", "InconclusiveAnalysisRun") and view.paused_at_step
