"""What Argo CD says, read as Argo CD means it: the compared revision is not what runs, and a
multi-source Application reports `revisions` (the real kubernetes client against the stand-in)."""

from tests.canary.conftest import APP
from tests.canary.test_canary import release
from tests.support.gitremote import git


def test_a_compared_revision_is_not_a_sync(world):
    from gitops_promoter.domain.tags import TagInfo
    from tests.canary.conftest import IMAGE

    world.registry.images[IMAGE].append(TagInfo("v1.1.0", digest="sha256:" + "2" * 64))
    out = world.run()
    assert "web/dev/bumped" in out
    world.argocd.compare(APP)  # auto-sync off: Argo CD compared the new head, applied nothing
    app = world.kube.get("argoproj.io/v1alpha1/applications", "argocd", "web-dev")
    assert app["status"]["sync"]["status"] == "OutOfSync"
    assert app["status"]["sync"]["revision"] == git("rev-parse", "main", cwd=world.remote)
    assert world.run()["web/dev/waiting"].detail == "Argo CD does not run the release commit yet"


def test_a_multi_source_application_is_seen_synced(world):
    world.argocd.add(APP, "envs/dev/web/rollout.yaml", second_source="4f2a9c1e")
    world.cluster_catches_up()
    release(world)  # waits for Argo CD, then Argo CD syncs: revisions [head, chart]
    app = world.kube.get("argoproj.io/v1alpha1/applications", "argocd", "web-dev")
    assert "revision" not in app["status"]["sync"] and len(app["status"]["sync"]["revisions"]) == 2
    out = world.run()
    assert "web/dev/advanced" in out, {k: v.detail for k, v in out.items()}
