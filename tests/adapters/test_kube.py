"""The kube adapter with the real kubernetes client against the fake API server and the
Argo CD / Argo Rollouts simulators."""

import threading
import time

import pytest

from gitops_promoter.adapters.kube import ClusterRejected, KubeCluster
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
