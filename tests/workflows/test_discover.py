"""The discover workflow with in-memory ports: what it commits, what it says, and that one
bad app never stops the others."""

from datetime import UTC, datetime

from gitops_promoter.config import parse_config
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import RegistryUnavailable
from tests.fakes import MemoryRegistry, MemoryRepo, run_all

CONFIG = """\
version: 1
repositories:
  - {name: deploy, url: file:///unused.git, github: {repo: acme/deploy, token: env:UNUSED}}
environments:
  - {name: dev, mode: direct}
  - {name: staging, mode: pull-request}
apps:
  - name: web
    image: reg.local/acme/web
    repository: deploy
    policy: {strategy: semver, constraint: "^1.0"}
    targets:
      dev: {file: dev/web.yaml, edit: {kind: container, container: web}}
      staging: {file: staging/web.yaml, edit: {kind: container, container: web}}
  - name: api
    image: reg.local/acme/api
    repository: deploy
    policy: {strategy: newest-build}
    targets:
      dev: {file: dev/api.yaml, edit: {kind: helm, key: image.tag}, pin_digest: true}
  - name: broken
    image: reg.local/acme/broken
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev: {file: dev/broken.yaml, edit: {kind: container, container: broken}}
"""

WEB = ("kind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n"
       "        - name: web\n          image: reg.local/acme/web:v1.0.0  # keep\n")
API = "image:\n  tag: '2024.01.01'\n"
D = "sha256:" + "c" * 64
DIRECT = frozenset({"dev"})


def setup(**failures):
    config = parse_config(CONFIG, source="c.yaml")
    registry = MemoryRegistry(images={
        "reg.local/acme/web": [TagInfo("v1.0.0"), TagInfo("v1.1.0", digest=D), TagInfo("v2.0.0")],
        "reg.local/acme/api": [TagInfo("2024.01.01", datetime(2024, 1, 1, tzinfo=UTC), D),
                               TagInfo("2024.02.01", datetime(2024, 2, 1, tzinfo=UTC), D)],
    }, failures=failures)
    repo = MemoryRepo("deploy", {"dev/web.yaml": WEB, "staging/web.yaml": WEB, "dev/api.yaml": API,
                                 "dev/broken.yaml": WEB.replace("web", "broken")})
    return config, registry, repo


def test_bumps_direct_environments_only_and_reports_each():
    config, registry, repo = setup()
    outcomes = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo})
    assert [o.line() for o in outcomes] == [
        "web/dev: bumped v1.0.0 → v1.1.0: policy semver lenient ^1.0 picked v1.1.0 [1000000000]",
        "api/dev: bumped 2024.01.01 → 2024.02.01: policy newest-build picked 2024.02.01 "
        "(pushed 2024-02-01T00:00:00Z) [2000000000]",
        "broken/dev: error: registry reg.local/acme/broken (HTTP 404): NAME_UNKNOWN",
    ]
    assert "reg.local/acme/web:v1.1.0  # keep" in repo.files["dev/web.yaml"]
    assert repo.files["staging/web.yaml"] == WEB  # pull-request environments are not touched here
    assert repo.files["dev/api.yaml"] == f"image:\n  tag: '2024.02.01@{D}'\n"
    path, message = repo.commits[0]
    assert message.splitlines()[-5:] == ["Promoter-App: web", "Promoter-Env: dev", "Promoter-Action: bump",
                                         "Promoter-Tag: v1.1.0", f"Promoter-Digest: {D}"]


def test_second_run_is_idempotent():
    config, registry, repo = setup()
    run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo})
    again = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo})
    assert [o.status for o in again] == ["unchanged", "unchanged", "error"]
    assert again[0].detail == "already at v1.1.0, the newest tag under semver lenient ^1.0"
    assert len(repo.commits) == 2


def test_dry_run_shows_the_diff_and_commits_nothing():
    config, registry, repo = setup()
    outcomes = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo}, mode="dry-run",
                              apps=frozenset({"web"}))
    assert [o.status for o in outcomes] == ["would-bump"]
    assert outcomes[0].diff.splitlines()[-2:] == ["-          image: reg.local/acme/web:v1.0.0  # keep",
                                                  "+          image: reg.local/acme/web:v1.1.0  # keep"]
    assert repo.commits == [] and repo.files["dev/web.yaml"] == WEB


def test_registry_outage_is_an_error_for_that_app_only():
    config, registry, repo = setup(**{"reg.local/acme/web": RegistryUnavailable(
        registry="reg.local", repository="acme/web", status=503, detail="gave up after 5 attempts")})
    outcomes = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo})
    assert [(o.app, o.status) for o in outcomes] == [("web", "error"), ("api", "bumped"), ("broken", "error")]
    assert outcomes[0].detail == "registry reg.local/acme/web (HTTP 503): gave up after 5 attempts"
    assert repo.files["dev/web.yaml"] == WEB


def test_edit_error_names_the_file():
    config, registry, repo = setup()
    repo.files["dev/web.yaml"] = WEB.replace("name: web", "name: webapp")
    outcome = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo}, apps=frozenset({"web"}))[0]
    assert outcome.status == "error"
    assert outcome.detail == "deploy:dev/web.yaml: container 'web' not found (containers in the file: webapp)"


def test_unexpected_bug_in_one_app_does_not_stop_the_rest():
    config, registry, repo = setup()

    class Exploding(MemoryRegistry):
        def list_tags(self, image, **kw):
            if "web" in image:
                raise KeyError("boom")
            return super().list_tags(image, **kw)

    reg = Exploding(images=registry.images)
    outcomes = run_all(config, envs=DIRECT, registry=reg, repos={"deploy": repo})
    assert outcomes[0].detail == "internal error: KeyError: 'boom'"
    assert outcomes[1].status == "bumped"


def test_creation_times_are_fetched_only_for_tags_that_pass_the_filters():
    config = parse_config(CONFIG.replace("policy: {strategy: newest-build}",
                                         "policy: {strategy: newest-build, ignore_tags: ['2024.01.*']}"),
                          source="c.yaml")
    _, registry, repo = setup()
    registry.images["reg.local/acme/api"].append(TagInfo("sha256-abc.sig", datetime(2025, 1, 1, tzinfo=UTC)))
    run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo}, apps=frozenset({"api"}))
    assert [c for c in registry.calls if c.startswith("created")] == ["created reg.local/acme/api:2024.02.01"]


def test_digest_strategy_asks_only_for_the_followed_tag():
    config = parse_config(CONFIG.replace("policy: {strategy: newest-build}",
                                         "policy: {strategy: digest, constraint: latest}"), source="c.yaml")
    _, registry, repo = setup()
    registry.images["reg.local/acme/api"].append(TagInfo("latest", digest=D))
    repo.files["dev/api.yaml"] = "image:\n  tag: latest\n"
    outcome = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo}, apps=frozenset({"api"}))[0]
    assert outcome.status == "bumped"
    assert [c for c in registry.calls if c.startswith("digest")] == ["digest reg.local/acme/api:latest"]
    assert repo.files["dev/api.yaml"] == f"image:\n  tag: latest@{D}\n"


def test_digest_strategy_always_pins_even_without_pin_digest():
    config = parse_config(CONFIG.replace('policy: {strategy: semver, constraint: "^1.0"}',
                                         "policy: {strategy: digest, constraint: latest}"), source="c.yaml")
    _, registry, repo = setup()
    registry.images["reg.local/acme/web"].append(TagInfo("latest", digest=D))
    repo.files["dev/web.yaml"] = WEB.replace("v1.0.0", "latest")
    outcome = run_all(config, envs=DIRECT, registry=registry, repos={"deploy": repo}, apps=frozenset({"web"}))[0]
    assert (outcome.status, outcome.to_tag) == ("bumped", "latest")
    assert f"image: reg.local/acme/web:latest@{D}  # keep" in repo.files["dev/web.yaml"]
