"""The scale benchmark's world: N apps × 3 environments on real parts.

* Images: Debian's docker-registry (tests/support/registry.py), N/5 image repositories
  `acme/img-RRR`. The five apps of one repository follow five release lines (app k of a
  repository takes `v<k+1>.x.y` with `semver ^<k+1>.0`), so one `tags/list` serves five apps and a
  new tag moves exactly one app. Every tag is a real OCI manifest; the layer and config blobs are
  uploaded once and cross-mounted into every repository, and a tag's manifest differs by an
  annotation, so pushing thousands of tags costs one PUT each.
* One deployment repository per size: a real bare git remote, written with one `git fast-import`:
  per app a Deployment (dev, `container` edit), a kustomization (staging, `kustomize`) and Helm
  values (prod, `helm`), and the promoter's history: four dev bumps per app (messages from
  `domain.plan.commit_message`, the promoter's trailers), staging and prod promotions as the
  squash merges GitHub writes (the same messages), people's commits in between. About 8 commits
  per app (8,000 at 1,000 apps).
* The local GitHub stand-in (tests/support/fake_github.py) serves the repository's pull requests;
  staging and prod are `pull-request` environments. LAGGING_SHARE of the apps have staging one
  release behind dev: the first pass opens their pull requests, which then wait for an approval,
  so the steady state has open PRs as a real one does.
* The O&M config, written in the product's real format and read by its real loader.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitops_promoter.config import load_config, reader
from gitops_promoter.domain.plan import Bump, commit_message
from gitops_promoter.errors import ConfigError
from tests.support.registry import OCI_MANIFEST, Pusher, RegistryServer

IMAGE_HOST = "registry.bench.local"  # the name manifests use; the config's api_url says where it answers
APPS_PER_IMAGE = 5
RELEASES = 5  # v<M>.0.0 … v<M>.4.0 on every line at the start
LAGGING_SHARE = 20  # one app in 20 has staging a release behind dev (an open PR in the steady state)
TOKEN = "scale-bench-token"
BOT = "promoter-bot"
GIT_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1"}
PROMOTER = b"gitops-promoter <promoter@acme.example>"


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def image_repo(i: int) -> str:
    return f"acme/img-{i // APPS_PER_IMAGE:03d}"


def major(i: int) -> int:
    return i % APPS_PER_IMAGE + 1


def image(i: int) -> str:
    return f"{IMAGE_HOST}/{image_repo(i)}"


def tag(i: int, minor: int) -> str:
    return f"v{major(i)}.{minor}.0"


@dataclass
class Images:
    """The registry's image repositories and tags, shared by every size of one run: the release
    line of app i is (image_repo(i), major(i)); `latest` is its newest minor."""

    registry: RegistryServer
    pusher: Pusher
    repos: set[str] = field(default_factory=set)
    latest: dict[tuple[str, int], int] = field(default_factory=dict)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, tag) → manifest digest
    blobs: dict[str, tuple[str, int]] = field(default_factory=dict)  # layer / config → (digest, size)
    pushed: int = 0

    def ensure(self, apps: int) -> float:
        """Push what `apps` apps need (their repositories with RELEASES tags per line); returns seconds."""
        t0 = time.perf_counter()
        wanted = sorted({image_repo(i) for i in range(apps)} - self.repos)
        if wanted and not self.blobs:
            self._seed(wanted[0])
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self._fill, wanted))
        return time.perf_counter() - t0

    def _seed(self, repo: str) -> None:
        layer = b"scale-bench layer\n" * 64
        config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        self.blobs["layer"] = (self.pusher.blob(repo, layer), len(layer))
        self.blobs["config"] = (self.pusher.blob(repo, config), len(config))
        self.blobs["from"] = (repo, 0)

    def _mount(self, repo: str) -> None:
        source = self.blobs["from"][0]
        if repo == source:
            return
        for kind in ("layer", "config"):
            digest = self.blobs[kind][0]
            r = self.pusher.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": source})
            if r.status_code != 201:
                raise RuntimeError(f"cross-mount of {digest} into {repo}: HTTP {r.status_code} {r.text[:200]}")

    def _fill(self, repo: str) -> None:
        self._mount(repo)
        for m in range(1, APPS_PER_IMAGE + 1):
            for minor in range(RELEASES):
                self.push(repo, m, minor)
        self.repos.add(repo)

    def add_line(self, repo: str, line: int, minors: int) -> None:
        """One more repository with one release line of `minors` tags (the big-repository bump)."""
        if not self.blobs:
            self._seed(repo)
        self._mount(repo)
        for minor in range(minors):
            self.push(repo, line, minor)
        self.repos.add(repo)

    def push(self, repo: str, line: int, minor: int) -> str:
        """Push `v<line>.<minor>.0` to `repo` (a real manifest PUT); returns the tag."""
        name = f"v{line}.{minor}.0"
        (layer, layer_size), (config, config_size) = self.blobs["layer"], self.blobs["config"]
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                           "size": config_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                            "size": layer_size}],
                "annotations": {"org.opencontainers.image.version": name,
                                "org.opencontainers.image.ref.name": f"{repo}:{name}"}}
        self.digests[(repo, name)] = self.pusher.manifest(repo, name, body, OCI_MANIFEST)
        key = (repo, line)
        self.latest[key] = max(self.latest.get(key, -1), minor)
        self.pushed += 1
        return name

    def new_release(self, i: int) -> str:
        """A new tag on app i's line (what moves that app and no other)."""
        repo, line = image_repo(i), major(i)
        return self.push(repo, line, self.latest[(repo, line)] + 1)

    def newest(self, i: int) -> int:
        return self.latest[(image_repo(i), major(i))]


# --- the deployment repository -------------------------------------------------------------

def dev_file(i: int, t: str) -> str:
    name = app_name(i)
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: {image(i)}:{t}   # bumped by gitops-promoter
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
"""


def staging_file(i: int, t: str) -> str:
    return f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {app_name(i)}-staging
resources:
  - ../dev
images:
  - name: {image(i)}
    newTag: {t}
"""


def prod_file(i: int, t: str) -> str:
    return f"""\
# Helm values for {app_name(i)} in prod
replicaCount: 4
image:
  repository: {image(i)}
  tag: "{t}"
  pullPolicy: IfNotPresent
"""


FILES = {"dev": ("deployment.yaml", dev_file), "staging": ("kustomization.yaml", staging_file),
         "prod": ("values.yaml", prod_file)}


def path(i: int, env: str) -> str:
    return f"apps/{app_name(i)}/{env}/{FILES[env][0]}"


def lagging(i: int) -> bool:
    return i % LAGGING_SHARE == 7


def _data(raw: bytes) -> bytes:
    return b"data %d\n" % len(raw) + raw + b"\n"


class _Import:
    """Commits written to a `git fast-import` stream on refs/heads/main, one after another."""

    def __init__(self, bare: Path, start: int) -> None:
        self.proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE, env=GIT_ENV)
        assert self.proc.stdin is not None
        self.out = self.proc.stdin
        self.when = start
        self.count = 0

    def commit(self, author: bytes, message: str, files: Iterable[tuple[str, str]]) -> None:
        self.when += 60
        self.count += 1
        self.out.write(b"commit refs/heads/main\n")
        self.out.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (author, self.when, author, self.when))
        self.out.write(_data(message.encode()))
        for name, text in files:
            self.out.write(f"M 100644 inline {name}\n".encode() + _data(text.encode()))

    def close(self) -> None:
        self.out.close()
        if self.proc.wait() != 0:
            raise RuntimeError("git fast-import failed")


def build_deploy_repo(bare: Path, apps: int, images: Images) -> dict[str, object]:
    """The deployment repository for `apps` apps, each line at its newest tag in dev (staging and
    prod too, except the lagging apps' staging and prod, one promotion behind)."""
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True, env=GIT_ENV)
    newest = {i: images.newest(i) for i in range(apps)}
    first = {i: newest[i] - (RELEASES - 1) for i in range(apps)}  # four releases of history per app
    per_app = 8
    imp = _Import(bare, int(time.time()) - 60 * (apps * per_app + 10))
    files = [("README.md", "# deployment repository (scale benchmark)\n")]
    for i in range(apps):
        for env in FILES:
            files.append((path(i, env), FILES[env][1](i, tag(i, first[i]))))
    imp.commit(b"Platform Team <platform@acme.example>", "Initial deployment manifests\n", files)

    def bump(i: int, env: str, minor: int, before: int) -> None:
        t, old = tag(i, minor), tag(i, before)
        digest = images.digests[(image_repo(i), t)]
        if env == "dev":
            why = f"policy semver lenient ^{major(i)}.0 picked {t}"
            author = PROMOTER
        else:
            source = "dev" if env == "staging" else "staging"
            why = f"{source} runs {t}; promoted by pull request"
            author = b"alice <alice@users.noreply.github.com>"  # the squash merge GitHub writes
        message = commit_message(Bump(app_name(i), env, old, t, digest, why))
        imp.commit(author, message, [(path(i, env), FILES[env][1](i, t))])

    def person(k: int) -> None:
        imp.commit(b"Dana Ops <dana@acme.example>", f"ops: tune alerting for team {k % 17}\n",
                   [(f"ops/team-{k % 17:02d}.yaml", f"alerts:\n  threshold: {k}\n")])

    for step in range(1, RELEASES):
        for i in range(apps):
            bump(i, "dev", first[i] + step, first[i] + step - 1)
            if i % 10 == 9:
                person(step * apps + i)
        if step in (2, RELEASES - 1):  # staging, then prod, take the release by pull request
            for env in ("staging", "prod"):
                for i in range(apps):
                    if step == RELEASES - 1 and lagging(i):
                        continue
                    bump(i, env, first[i] + step, first[i] + (2 if step != 2 else 0))
    imp.close()
    subprocess.run(["git", "repack", "-a", "-d", "-q"], cwd=bare, check=True, env=GIT_ENV)
    return {"commits": imp.count, "files": 1 + 3 * apps + 17}


# --- the O&M config ---------------------------------------------------------------------------

def config_text(*, apps: int, remote: Path, registry_api: str, github_api: str, workdir: str) -> str:
    """The O&M file, in the product's config format. Pacing off (the GitHub stand-in is local)."""
    lines = [
        "version: 1",
        "registries:",
        f"  - {{prefix: {IMAGE_HOST}, api_url: '{registry_api}', rate_limit: 1000}}",
        "repositories:",
        "  - name: deploy",
        f"    url: file://{remote}",
        "    branch: main",
        "    author: {name: gitops-promoter, email: promoter@acme.example}",
        f"    github: {{repo: acme/deploy, api_url: '{github_api}', token: env:PROMOTER_GITHUB_TOKEN,",
        "             seconds_between_requests: 0, seconds_between_writes: 0}",
        "environments:",
        "  - {name: dev, mode: direct}",
        "  - {name: staging, mode: pull-request, approval: {required: 1, approvers: [alice]}, merge_method: squash}",
        "  - {name: prod, mode: pull-request, approval: {required: 1, approvers: [alice]}, merge_method: squash}",
        "apps:",
    ]
    for i in range(apps):
        lines += [
            f"  - name: {app_name(i)}",
            f"    image: {image(i)}",
            "    repository: deploy",
            f"    policy: {{strategy: semver, constraint: '^{major(i)}.0'}}",
            "    targets:",
            f"      dev: {{file: {path(i, 'dev')}, edit: {{kind: container, container: app}}}}",
            f"      staging: {{file: {path(i, 'staging')}, edit: {{kind: kustomize, name: {image(i)}}}}}",
            f"      prod: {{file: {path(i, 'prod')}, edit: {{kind: helm, key: image.tag}}}}",
        ]
    lines += ["state:", f"  workdir: {workdir}", "  journal: journal.sqlite", ""]
    return "\n".join(lines)


LIFTED_NODES = 1_000_000
# The product's command with the config reader's value budget (config/reader.py MAX_NODES) lifted:
# used only when the product refuses the world's config for its size alone (see World.check).
LIFTED_CLI = (f"import sys; import gitops_promoter.config.reader as r; r.MAX_NODES = {LIFTED_NODES}; "
              "from gitops_promoter.cli import main; sys.exit(main())")


@contextlib.contextmanager
def lifted_value_limit() -> Iterator[None]:
    """In this process: the config reader's value budget lifted (see World.check)."""
    saved = reader.MAX_NODES
    reader.MAX_NODES = LIFTED_NODES
    try:
        yield
    finally:
        reader.MAX_NODES = saved


@dataclass
class World:
    apps: int
    root: Path
    remote: Path
    config: Path
    commits: int
    built_s: float
    refused: str | None = None  # the product refused this config for its size alone: its words

    def check(self) -> None:
        """The product's own loader reads the config (a wrong key fails here, not in a pass). When it
        refuses the file only for its number of values (the reader's hostile-input budget), that is
        recorded in `refused`, the file is checked again with the budget lifted, and the passes run
        the product with it lifted (LIFTED_CLI): the figures are then those of the product with
        that one constant changed, and the results say so."""
        try:
            cfg = load_config(self.config)
        except ConfigError as exc:
            if len(exc.problems) != 1 or "values (keys included" not in exc.problems[0]:
                raise
            self.refused = exc.problems[0]
            with lifted_value_limit():
                cfg = load_config(self.config)
        assert len(cfg.apps) == self.apps, (len(cfg.apps), self.apps)

    def promoter(self, *args: str) -> list[str]:
        """The promoter's command line (`python -m gitops_promoter.cli ARGS`)."""
        if self.refused:
            return [sys.executable, "-c", LIFTED_CLI, *args]
        return [sys.executable, "-m", "gitops_promoter.cli", *args]


def build_world(root: Path, apps: int, *, images: Images, registry_api: str, github: object) -> World:
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    images.ensure(apps)
    remote = root / "deploy.git"
    facts = build_deploy_repo(remote, apps, images)
    github.add_repo("acme/deploy", remote)  # type: ignore[attr-defined]
    config = root / "promoter.yaml"
    config.write_text(config_text(apps=apps, remote=remote, registry_api=registry_api,
                                  github_api=github.api, workdir="work"))  # type: ignore[attr-defined]
    world = World(apps, root, remote, config, int(facts["commits"]), 0.0)  # type: ignore[call-overload]
    world.check()
    world.built_s = time.perf_counter() - t0
    return world
