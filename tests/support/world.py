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


def config_text(*, registry_host: str, registry_url: str, remote: Path, image: str,
                author_email: str = "promoter@acme.example", workdir: str = "work") -> str:
    return f"""\
version: 1
registries:
  - prefix: {registry_host}
    api_url: {registry_url}
repositories:
  - name: deploy
    url: file://{remote}
    branch: main
    author: {{name: gitops-promoter, email: {author_email}}}
environments:
  - name: dev
    mode: direct
  - name: staging
    mode: pull-request
apps:
  - name: web
    image: {image}
    repository: deploy
    policy: {{strategy: semver, constraint: "^1.0"}}
    targets:
      dev:
        file: {ROLLOUT}
        edit: {{kind: container, container: web}}
state:
  workdir: {workdir}
"""
