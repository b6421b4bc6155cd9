"""Habits of the tools users come from, on real git and the real PyGithub client: O&M's title
templates on commits and pull requests (trailers always kept), and Kargo-style soak times."""

from gitops_promoter.domain.plan import parse_trailers
from tests.support.gitremote import git


def with_titles(world, commit: str, pull_request: str) -> None:
    line = next(x for x in world.config_text.splitlines() if x.startswith("    github: {repo: acme/deploy"))
    world.config_text = world.config_text.replace(
        line, f"{line}\n    commit: {{title: '{commit}'}}\n    pull_request: {{title: '{pull_request}'}}")


def test_title_templates_word_commits_and_pull_requests_and_the_trailers_stay(world):
    with_titles(world, "chore({env}): bump {app} {from} -> {to} [skip ci]", "Deploy {app} {to} to {env}")
    world.push_tag("v1.1.0")
    out = world.run()
    assert (out["web/dev"].status, out["web/staging"].status) == ("bumped", "proposed")
    dev = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert dev.splitlines()[0] == "chore(dev): bump web v1.0.0 -> v1.1.0 [skip ci]"
    assert parse_trailers(dev)["Promoter-Tag"] == "v1.1.0"
    pr = world.github.pulls()[0]
    assert pr.title == "Deploy web v1.1.0 to staging"
    assert " chore(staging): bump web v1.0.0 -> v1.1.0 [skip ci]\n" in pr.body  # the commit it carries
    assert " chore(dev): bump web v1.0.0 -> v1.1.0 [skip ci] |" in pr.body  # its source in dev

    world.github.review(1, "carol", "APPROVED")
    merged = world.run()
    assert merged["web/staging"].status == "merged"
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert message.splitlines()[0] == "chore(staging): bump web v1.0.0 -> v1.1.0 [skip ci]"
    assert parse_trailers(message) == {"Promoter-App": "web", "Promoter-Env": "staging", "Promoter-Action": "bump",
                                       "Promoter-Tag": "v1.1.0", "Promoter-Digest": world.registry.digest(
                                           "reg.local/acme/web", "v1.1.0")}
    # The trailers are the record: prod proposes what staging runs, and nothing is proposed twice.
    assert (merged["web/prod"].status, world.github.pulls()[1].title) == ("proposed", "Deploy web v1.1.0 to prod")
    again = world.run()
    assert (again["web/dev"].status, again["web/staging"].status) == ("unchanged", "unchanged")
