"""The GitHub adapter on its own: auth, error mapping, the 422 that must not loop."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.config.schema import GitHubConfig, SecretRef
from gitops_promoter.errors import CodeHostRejected, CodeHostUnavailable
from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import git, make_remote

FAST = {"backoff": 0.01, "seconds_between_requests": 0, "seconds_between_writes": 0}


@pytest.fixture
def gh(tmp_path):
    remote = make_remote(tmp_path)
    commit = git("commit-tree", "main^{tree}", "-p", "main", "-m", "feature work", cwd=remote)
    git("update-ref", "refs/heads/feature", commit, cwd=remote)
    with FakeGitHub(tokens={"tok": "promoter-bot"}) as server:
        server.add_repo("acme/deploy", remote)
        yield server


def token_host(gh, token="tok", **kw):
    import os

    os.environ["FAKE_GH_TOKEN"] = token
    return GitHubHost(GitHubConfig(repo="acme/deploy", api_url=gh.api, token=SecretRef("env", "FAKE_GH_TOKEN", "t")),
                      **{**FAST, **kw})


def test_token_login_and_enterprise_base_url(gh):
    host = token_host(gh)
    assert host.login() == "promoter-bot"
    assert gh.log[0] == "GET /user"  # under /api/v3, as GitHub Enterprise serves it


def test_bad_token_is_rejected_with_repo_and_status(gh):
    with pytest.raises(CodeHostRejected, match=r"github acme/deploy \(HTTP 401\): get user: Bad credentials"):
        token_host(gh, token="wrong").login()


def test_5xx_beyond_the_retry_budget_is_unavailable(gh):
    gh.fail_next(10, status=502)
    with pytest.raises(CodeHostUnavailable, match="acme/deploy"):
        token_host(gh, retries=2).pulls(head_branch="feature", state="open")


def test_github_app_installation_auth(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    (tmp_path / "app.pem").write_text(pem)
    remote = make_remote(tmp_path)
    with FakeGitHub(app_key=key, app_id=4242, app_login="acme-promoter[bot]") as server:
        server.add_repo("acme/deploy", remote)
        cfg = GitHubConfig(repo="acme/deploy", api_url=server.api, app_id=4242, installation_id=7,
                           private_key=SecretRef("file", str(tmp_path / "app.pem"), "t"))
        host = GitHubHost(cfg, **FAST)
        assert host.login() == "acme-promoter[bot]"
        assert host.pulls(head_branch="x", state="all") == []
        assert "POST /app/installations/7/access_tokens" in server.log


def test_create_when_one_exists_is_a_clear_422(gh):
    host = token_host(gh)
    first = host.create_pull(head_branch="feature", base="main", title="t", body="b", labels=())
    with pytest.raises(CodeHostRejected) as info:
        host.create_pull(head_branch="feature", base="main", title="t", body="b", labels=())
    assert info.value.status == 422
    assert "A pull request already exists for acme:feature." in str(info.value)
    assert [p.number for p in host.pulls(head_branch="feature", state="open")] == [first.number]


def test_no_commits_between_is_a_422(gh):
    git("branch", "same", "main", cwd=gh.repo().path)
    with pytest.raises(CodeHostRejected, match="No commits between main and same"):
        token_host(gh).create_pull(head_branch="same", base="main", title="t", body="b", labels=())


def test_pull_request_environment_without_github_section_is_a_config_error():
    from gitops_promoter.config import parse_config
    from gitops_promoter.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_config("""\
version: 1
repositories: [{name: deploy, url: file:///x.git}]
environments: [{name: dev, mode: direct}, {name: staging, mode: pull-request}]
apps:
  - name: web
    image: reg/web
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev: {file: a.yaml, edit: {kind: container, container: web}}
      staging: {file: b.yaml, edit: {kind: container, container: web}}
""", source="c.yaml")
    assert info.value.problems == [
        "c.yaml:11:7: apps[0].targets.staging: staging promotes by pull request, but repository 'deploy' has no "
        "github section"]


def test_reviews_follow_link_pagination(gh):
    host = token_host(gh)
    pr = host.create_pull(head_branch="feature", base="main", title="t", body="b", labels=())
    for i in range(105):
        gh.review(pr.number, f"user{i}", "COMMENTED")
    gh.review(pr.number, "alice", "APPROVED")
    reviews = host.reviews(pr.number)
    assert len(reviews) == 106 and reviews[-1].user == "alice"
    assert sum(1 for line in gh.log if line.endswith(f"/pulls/{pr.number}/reviews")) == 2  # two pages of 100
