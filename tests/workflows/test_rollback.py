"""`rollback` in every environment, with in-memory ports: a revert commit where the branch takes
pushes, a revert pull request where it refuses them, and the tag rejected afterwards."""

from types import SimpleNamespace

from gitops_promoter.config import parse_config
from gitops_promoter.domain.plan import Bump, commit_message, parse_trailers
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.ports import Change
from gitops_promoter.workflows import canary
from gitops_promoter.workflows.rollback import Rollback, rollback
from tests.fakes import MemoryHost as Host
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
"""
WEB = ("kind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n"
       "        - name: web\n          image: reg.local/acme/web:v1.0.0  # keep\n")
D = "sha256:" + "d" * 64
GH006 = ("GH006: Protected branch update failed for refs/heads/main. "
         "Changes must be made through a pull request.")
BRANCH = "gitops-promoter/rollback-staging-web"


def world():
    config = parse_config(CONFIG, source="c.yaml")
    registry = MemoryRegistry(images={"reg.local/acme/web": [TagInfo("v1.0.0"), TagInfo("v1.1.0", digest=D)]})
    repo = MemoryRepo("deploy", {"dev/web.yaml": WEB, "staging/web.yaml": WEB})
    return config, registry, repo


def staging_release(repo, tag="v1.1.0"):
    """A merged staging promotion: one squash commit with the promoter's trailers."""
    bump = Bump("web", "staging", "v1.0.0", tag, D, f"dev runs {tag}; promoted by pull request")
    repo.commit(Change("staging/web.yaml", lambda t: t.replace("web:v1.0.0", f"web:{tag}"), commit_message(bump)))


def decide(config, registry, repo, env, force="rollback", **ports):
    return run_all(config, registry=registry, repos={"deploy": repo}, envs=frozenset({env}), force=force, **ports)


def test_a_direct_environment_without_a_canary_gets_a_revert_commit_and_the_tag_is_rejected():
    config, registry, repo = world()
    assert [o.status for o in run_all(config, registry=registry, repos={"deploy": repo},
                                      envs=frozenset({"dev"}))] == ["bumped"]
    bump = repo.head()
    [out] = decide(config, registry, repo, "dev")
    assert (out.status, out.detail) == ("reverted", "v1.1.0: rolled back by a person (gitops-promoter rollback); "
                                                    "v1.1.0 is rejected for dev")
    assert repo.files["dev/web.yaml"] == WEB
    message = repo.commits[-1][1]
    assert message.split("\n\n")[:3] == ["revert(dev): web v1.1.0", "Rolled back by a person (gitops-promoter "
                                         "rollback).", f"This reverts commit {bump}."]
    assert parse_trailers(message) == {"Promoter-App": "web", "Promoter-Env": "dev", "Promoter-Action": "revert",
                                       "Promoter-Tag": "v1.1.0", "Promoter-Digest": D}

    again = run_all(config, registry=registry, repos={"deploy": repo}, envs=frozenset({"dev"}))
    assert [(o.status, o.detail) for o in again] == [
        ("unchanged", "already at v1.0.0, the newest tag under semver lenient ^1.0; rejected here: v1.1.0 "
                      "reverted by the promoter in 2000000000 (revert(dev): web v1.1.0)")]
    assert repo.files["dev/web.yaml"] == WEB and len(repo.commits) == 2  # v1.1.0 is never bumped again
    [twice] = decide(config, registry, repo, "dev")
    assert (twice.status, twice.detail) == ("unchanged", "nothing to roll back: dev has no live release of the "
                                                         "promoter's")


def test_nothing_to_roll_back_without_a_release_of_the_promoters():
    config, registry, repo = world()
    repo.commits.append(("staging/web.yaml", "a person's edit"))
    [out] = decide(config, registry, repo, "staging")
    assert (out.status, out.detail) == ("unchanged", "nothing to roll back: staging has no live release of the "
                                                     "promoter's")
    assert len(repo.commits) == 1 and repo.branches == {}


def test_promote_without_a_canary_says_so():
    config, registry, repo = world()
    [out] = decide(config, registry, repo, "staging", force="promote")
    assert (out.status, out.detail) == ("unchanged", "nothing to promote: staging has no canary")


def test_a_branch_that_refuses_pushes_gets_a_revert_pull_request_reused_while_open():
    config, registry, repo = world()
    staging_release(repo)
    bump = repo.head()
    repo.refuse = GH006
    host = Host()
    [out] = decide(config, registry, repo, "staging", hosts={"deploy": host})
    assert (out.status, out.pr, out.to_tag) == ("proposed", 1, "v1.1.0")
    assert out.detail == f"pushing to main is refused ({GH006}); opened revert pull request #1"
    assert repo.files["staging/web.yaml"] != WEB and len(repo.commits) == 1  # main is untouched

    branch = repo.branches[BRANCH]
    assert branch.files["staging/web.yaml"] == WEB and branch.reverts == (bump,)
    assert branch.message.startswith("revert(staging): web v1.1.0\n\nRolled back by a person")
    assert parse_trailers(branch.message)["Promoter-Action"] == "revert"
    pr = host.prs[1]
    assert (pr.head_ref, pr.base_ref, pr.title) == (BRANCH, "main", "Roll back web in staging: v1.1.0")
    assert pr.body.startswith("Rolls **web** `v1.1.0` back in **staging**: rolled back by a person "
                              "(gitops-promoter rollback).")
    assert f"- {bump[:10]} promote(staging): web v1.0.0 → v1.1.0" in pr.body
    assert f"pushing to main is refused ({GH006})" in pr.body
    # A squash merge that takes the description still carries the revert and its trailers.
    assert f"This reverts commit {bump}." in pr.body
    assert parse_trailers(pr.body) == parse_trailers(branch.message)

    [again] = decide(config, registry, repo, "staging", hosts={"deploy": host})
    assert (again.status, again.pr) == ("waiting", 1)
    assert again.detail == (f"pushing to main is refused ({GH006}); revert pull request #1 is open, for a person "
                            "to merge")
    assert list(host.prs) == [1] and repo.branches[BRANCH] == branch  # same branch head: reviews stay valid
    assert [c for c in host.calls if not c.startswith(("pulls", "open_pulls"))] == ["create " + BRANCH]


def test_a_refused_push_without_a_code_host_is_a_clear_error():
    config, registry, repo = world()
    staging_release(repo)
    repo.refuse = GH006
    [out] = decide(config, registry, repo, "staging")
    assert (out.status, out.error_kind) == ("error", "permanent")
    assert out.detail == (f"pushing to main is refused ({GH006}), and repository deploy has no github section to "
                          "open a revert pull request with")
    assert repo.branches == {}


def test_the_canarys_own_revert_opens_the_pull_request_too():
    """A failed analysis where main refuses pushes: no silent failure, the revert comes as a PR."""
    config, registry, repo = world()
    staging_release(repo)
    repo.refuse = GH006
    host = Host()
    from gitops_promoter.domain.history import current_release

    release = current_release(repo.history(app="web"), app="web", env="staging")
    c = canary.Canary(SimpleNamespace(name="web"), "staging", SimpleNamespace(application=None), None, repo, None,
                      {}, host)
    out = canary._revert(c, release, "canary analysis failed at gate 1 (success-rate)", [])
    assert (out.status, out.pr) == ("proposed", 1)
    assert repo.branches[BRANCH].message.startswith(
        "revert(staging): web v1.1.0\n\nCanary analysis failed at gate 1 (success-rate).\n\nThis reverts commit ")
    assert "canary analysis failed at gate 1" in host.prs[1].body


def test_the_workflow_alone_says_the_host_problem():
    config, registry, repo = world()
    staging_release(repo)
    repo.refuse = GH006
    out = rollback(Rollback("web", "staging", repo, None, "github acme/deploy: needs token"))
    assert out.status == "error" and out.detail.endswith("open a revert pull request with; github acme/deploy: "
                                                         "needs token")


def test_a_persons_rollback_of_a_canary_needs_git_only_not_the_cluster():
    """The cluster is unreachable (the reason a person rolls back, often): the revert still lands."""
    from gitops_promoter.errors import TransientError
    from tests.fakes import MemoryJournal

    class Unreachable:
        def __getattr__(self, name):
            raise TransientError(f"cluster dev: {name}: connection refused")

    config, registry, repo = world()
    staging_release(repo)
    c = canary.Canary(SimpleNamespace(name="web"), "staging", SimpleNamespace(application="argocd/web"), None, repo,
                      Unreachable(), {}, None)
    out = canary.drive(c, journal=MemoryJournal(), force="rollback")
    assert out.status == "reverted" and repo.files["staging/web.yaml"] == WEB
