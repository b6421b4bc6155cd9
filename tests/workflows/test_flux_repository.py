"""A repository Flux's image automation wrote to, switched to the promoter with no edit: the config names
the ImagePolicy, and a pass bumps the marked values, every other byte kept."""

from gitops_promoter.config import parse_config
from gitops_promoter.domain.plan import parse_trailers
from gitops_promoter.domain.tags import TagInfo
from tests.conftest import changed_lines
from tests.fakes import MemoryRegistry, MemoryRepo, run_all

CONFIG = """\
version: 1
repositories: [{name: deploy, url: 'file:///unused.git'}]
environments: [{name: dev, mode: direct}, {name: qa, mode: direct}]
apps:
  - name: podinfo
    image: ghcr.io/stefanprodan/podinfo
    repository: deploy
    flux_policy: flux-system:podinfo
    policy: {strategy: semver, constraint: ">=6.0.0"}
    targets:
      dev: {file: clusters/dev/podinfo.yaml, edit: {kind: marker}}
      qa: {file: clusters/qa/kustomization.yaml, edit: {kind: marker, flux_policy: qa:podinfo-qa}}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: podinfo
spec:
  template:
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.0.0 # {"$imagepolicy": "flux-system:podinfo"}
          ports:
            - containerPort: 9898
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../apps/podinfo]
images:
  - name: ghcr.io/stefanprodan/podinfo
    newName: ghcr.io/stefanprodan/podinfo # {"$imagepolicy": "qa:podinfo-qa:name"}
    newTag: 6.0.0 # {"$imagepolicy": "qa:podinfo-qa:tag"}
"""


def test_a_flux_repository_is_bumped_without_an_edit():
    config = parse_config(CONFIG, source="c.yaml")
    registry = MemoryRegistry(images={"ghcr.io/stefanprodan/podinfo": [TagInfo("6.0.0"), TagInfo("6.1.0"),
                                                                        TagInfo("5.9.0")]})
    repo = MemoryRepo("deploy", {"clusters/dev/podinfo.yaml": DEPLOYMENT, "clusters/qa/kustomization.yaml":
                                 KUSTOMIZATION})
    outcomes = run_all(config, registry=registry, repos={"deploy": repo})
    assert [(o.env, o.status, o.to_tag) for o in outcomes] == [("dev", "bumped", "6.1.0"), ("qa", "bumped", "6.1.0")]
    assert changed_lines(DEPLOYMENT, repo.files["clusters/dev/podinfo.yaml"]) == [
        ('          image: ghcr.io/stefanprodan/podinfo:6.0.0 # {"$imagepolicy": "flux-system:podinfo"}',
         '          image: ghcr.io/stefanprodan/podinfo:6.1.0 # {"$imagepolicy": "flux-system:podinfo"}')]
    assert changed_lines(KUSTOMIZATION, repo.files["clusters/qa/kustomization.yaml"]) == [
        ('    newTag: 6.0.0 # {"$imagepolicy": "qa:podinfo-qa:tag"}',
         '    newTag: 6.1.0 # {"$imagepolicy": "qa:podinfo-qa:tag"}')]
    assert [parse_trailers(m)["Promoter-Tag"] for _, m in repo.commits] == ["6.1.0", "6.1.0"]
    again = run_all(config, registry=registry, repos={"deploy": repo})
    assert [o.status for o in again] == ["unchanged", "unchanged"]
