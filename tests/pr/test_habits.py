"""Habits of the tools users come from, on real git and the real PyGithub client: O&M's title
templates on commits and pull requests (trailers always kept), and Kargo-style soak times."""

import time

import pytest

from gitops_promoter.domain.plan import parse_trailers
from gitops_promoter.domain.proposal import parse_marker
from gitops_promoter.domain.soak import duration
from tests.fakes import run_all
from tests.support.gitremote import git
from tests.support.world import ROLLOUT


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


def soak(world, duration: str) -> None:
    world.config_text = world.config_text.replace("  - name: staging\n    mode: pull-request\n",
                                                  f"  - name: staging\n    mode: pull-request\n    soak: {duration}\n")


def run_at(world, clock, *, observe=False):
    out = run_all(world.config, registry=world.registry, repos={"deploy": world.repo()},
                  hosts={"deploy": world.host()}, mode="observe" if observe else "run", clock=lambda: clock)
    return {f"{o.app}/{o.env}": o for o in out}


def test_staging_takes_a_tag_only_after_it_soaked_in_dev(world):
    soak(world, "1h")
    world.push_tag("v1.1.0")
    now = time.time()
    first = run_at(world, now)
    assert first["web/dev"].status == "bumped"
    bumped = float(git("log", "-1", "--format=%ct", "main", cwd=world.remote))  # git's record of the release
    staging = first["web/staging"]
    left = bumped + 3600 - now
    assert staging.status == "unchanged" and world.github.pulls() == []
    assert staging.detail.startswith(f"v1.1.0 soaks in dev: {duration(left)} left of 1h (running, canary completed, "
                                     "since ")
    assert staging.requeue_after == pytest.approx(left)  # the service looks again when the soak ends

    status = run_at(world, bumped + 1800, observe=True)["web/staging"]  # `status` says how long is left
    assert "v1.1.0 soaks in dev: 30m left of 1h" in status.detail

    proposed = run_at(world, bumped + 3600)["web/staging"]
    assert (proposed.status, proposed.to_tag, proposed.pr) == ("proposed", "v1.1.0", 1)


def test_an_open_pull_request_waits_while_a_newer_tag_soaks(world):
    soak(world, "1h")
    world.push_tag("v1.1.0")
    t = time.time()
    run_at(world, t)
    assert run_at(world, t + 3700)["web/staging"].status == "proposed"  # PR #1 for v1.1.0
    world.push_tag("v1.2.0")
    out = run_at(world, time.time())  # v1.2.0 lands in dev now
    assert out["web/dev"].status == "bumped"
    staging = out["web/staging"]
    assert (staging.status, staging.pr) == ("waiting", 1)
    assert staging.detail.startswith("v1.2.0 soaks in dev: ")
    pr = world.github.pulls()[0]
    assert (pr.state, parse_marker(pr.body)["tag"]) == ("open", "v1.1.0")  # neither closed nor superseded yet
    later = run_at(world, time.time() + 3700)["web/staging"]
    assert (later.status, later.to_tag, later.pr) == ("updated", "v1.2.0", 1)


def test_a_tag_no_promoter_commit_released_waits_and_says_so(world):
    """A person edited dev to v1.1.0 by hand: git does not say since when it runs; it is not a pass."""
    soak(world, "10m")
    world.push_tag("v1.1.0")
    human = world.human()
    text = world.file(ROLLOUT).replace("web:v1.0.0", "web:v1.1.0")
    human.commit(ROLLOUT, text, "dev: v1.1.0 by hand")
    staging = run_at(world, time.time() + 86400)["web/staging"]
    assert staging.status == "unchanged" and staging.requeue_after is None
    assert staging.detail.startswith("v1.1.0 must soak 10m in dev, and no promoter commit there records since when "
                                     "dev runs it")
