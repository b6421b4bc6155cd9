"""A small promotion world on real parts: a deployment repository whose dev rollout runs an
image of a real registry, and the O&M config that points the promoter at both.
Shared by the end-to-end tests and `make demo`."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops_promoter.domain.edits import set_container_image
from tests.support.gitremote import make_remote

ROOT = Path(__file__).resolve().parent.parent.parent
ROLLOUT = "envs/dev/web/rollout.yaml"


FIXTURE_IMAGE = "127.0.0.1:5000/acme/web"


def deploy_remote(root: Path, *, image: str, tag: str = "v1.0.0") -> Path:
    """A bare remote seeded from fixtures/repos/deploy, every environment's web image renamed to
    `image`, the dev container at `image:tag`."""
    seed = root / "seed"
    shutil.copytree(ROOT / "fixtures" / "repos" / "deploy", seed)
    for file in seed.rglob("*.yaml"):
        file.write_text(file.read_text().replace(FIXTURE_IMAGE, image))
    path = seed / ROLLOUT
    path.write_text(set_container_image(path.read_text(), container="web", image=f"{image}:{tag}"))
    remote = make_remote(root, seed)
    shutil.rmtree(seed)
    return remote


STAGING = "envs/staging/web/kustomization.yaml"
PROD = "envs/prod/web/values.yaml"


def config_text(*, remote: Path, image: str, registry_host: str | None = None, registry_url: str | None = None,
                github_api: str | None = None, author_email: str = "promoter@acme.example", workdir: str = "work",
                approval: str = "{required: 1, approvers: [alice, acme/sre]}", merge_method: str = "squash",
                pacing: bool = True, canary: tuple[Path, str, str] | None = None, window: str = "1m") -> str:
    """The O&M file for the world: dev direct; with `github_api`, staging and prod by pull request;
    with `canary` (kubeconfig, Prometheus URL, service name), dev's Rollout is driven through its gates."""
    registries = f"registries:\n  - prefix: {registry_host}\n    api_url: {registry_url}\n" if registry_host else ""
    github = ""
    pr_envs = ""
    pr_targets = ""
    if github_api:
        speed = "" if pacing else ", seconds_between_requests: 0, seconds_between_writes: 0"
        github = f"    github: {{repo: acme/deploy, api_url: {github_api}, token: env:PROMOTER_GITHUB_TOKEN{speed}}}\n"
        pr_envs = f"""\
  - name: staging
    mode: pull-request
    approval: {approval}
    merge_method: {merge_method}
    labels: [promotion]
  - name: prod
    mode: pull-request
    approval: {{required: 2, approvers: [acme/sre]}}
"""
        pr_targets = f"""\
      staging: {{file: {STAGING}, edit: {{kind: kustomize, name: {image}}}}}
      prod: {{file: {PROD}, edit: {{kind: helm, key: image.tag}}}}
"""
    observed = canary_block = dev_cluster = ""
    if canary:
        kubeconfig, prom_url, service = canary
        observed = (f"clusters:\n  - {{name: dev, kubeconfig: 'file:{kubeconfig}'}}\n"
                    f"prometheus:\n  - {{name: main, url: '{prom_url}'}}\n")
        dev_cluster = "        cluster: dev\n        application: argocd/web-dev\n        rollout: shop/web\n"
        canary_block = f"""\
    canary:
      gate_duration: 10s
      analysis:
        prometheus: main
        args: {{service-name: {service}}}
        metrics:
          - name: success-rate
            interval: 1s
            count: 3
            successCondition: result[0] >= 0.95
            query: |
              sum(rate(http_requests_total{{service="{{{{args.service-name}}}}",code!~"5.."}}[{window}]))
              /
              sum(rate(http_requests_total{{service="{{{{args.service-name}}}}"}}[{window}]))
"""
    return f"""\
version: 1
{registries}{observed}repositories:
  - name: deploy
    url: file://{remote}
    branch: main
    author: {{name: gitops-promoter, email: {author_email}}}
{github}environments:
  - name: dev
    mode: direct
{pr_envs}apps:
  - name: web
    image: {image}
    repository: deploy
    policy: {{strategy: semver, constraint: "^1.0"}}
    targets:
      dev:
        file: {ROLLOUT}
        edit: {{kind: container, container: web}}
{dev_cluster}{pr_targets}{canary_block}state:
  workdir: {workdir}
"""


def kubeconfig_for(path: Path, server: str) -> Path:
    """A kubeconfig pointing at a (fake) API server."""
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: t, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: t, user: {token: t}}]\ncontexts: [{name: t, context: {cluster: t, user: t}}]\n"
        "current-context: t\n")
    return path
