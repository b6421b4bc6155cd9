"""`status`, `explain`, `promote --tag`, `rollback` and `allow` on real parts: Debian's
docker-registry, a real bare deployment repository, the GitHub stand-in for staging and prod."""

from __future__ import annotations

from tests.support.gitremote import git, remote_file
from tests.support.world import STAGING


def trailers(world, rev="main"):
    return git("log", "-1", "--format=%(trailers)", rev, cwd=world.remote).splitlines()


def test_status_is_one_row_per_app_and_environment_as_text_json_and_table(world):
    digest = world.push.image(world.repo, "v1.1.0", created="2026-11-23T10:02:11Z")
    assert world.cli("run", "--once").code == 0  # dev bumped, staging's pull request opened
    rows = world.cli("status", "-o", "json")
    assert rows.code == 0, rows.err
    data = rows.json()
    assert [(r["app"], r["env"], r["mode"]) for r in data] == [
        ("web", "dev", "direct"), ("web", "staging", "pull-request"), ("web", "prod", "pull-request")]
    dev, staging, _ = data
    head = git("rev-parse", "main", cwd=world.remote)
    assert dev | {"reason": None} == {
        "app": "web", "env": "dev", "mode": "direct", "live": "v1.1.0", "digest": digest, "status": "unchanged",
        "reason": None, "to": None, "pr": None, "canary": None, "rollback": f"git revert --no-edit {head[:12]}",
        "rejected": []}
    assert dev["reason"] == "already at v1.1.0, the newest tag under semver lenient ^1.0"
    assert (staging["live"], staging["status"], staging["to"], staging["pr"]) == ("v1.0.0", "waiting", "v1.1.0", 1)
    assert staging["reason"].startswith("waiting: no valid approval yet; 1 more approval needed")

    text = world.cli("status", "-o", "text").out.splitlines()
    assert len(text) == 3
    assert text[0] == ("web/dev: live v1.1.0; unchanged: already at v1.1.0, the newest tag under semver lenient "
                       f"^1.0; roll back: git revert --no-edit {head[:12]}")
    assert text[1].startswith("web/staging: live v1.0.0; waiting → v1.1.0 (#1): waiting: no valid approval yet")
    # Not a terminal: text is the default; a table when asked.
    assert world.cli("status").out.splitlines() == text
    table = world.cli("status", "-o", "table").out
    assert "web/dev" in table and "web/staging" in table and "v1.1.0" in table and "┃" in table
    header = next(line for line in table.splitlines() if "app/env" in line)
    assert "roll back" in header and "canary" not in header  # no app has a canary here


def test_promote_a_chosen_tag_in_a_direct_environment(world):
    world.push.image(world.repo, "v1.1.0")
    world.push.image(world.repo, "v1.2.0")
    done = world.cli("promote", "web", "dev", "--tag", "v1.1.0")
    assert done.code == 0, done.err
    assert done.out.startswith("web/dev: bumped v1.0.0 → v1.1.0: v1.1.0 chosen by a person (gitops-promoter "
                               "promote --tag) [")
    assert f'{world.image}:v1.1.0"' in world.dev()
    assert trailers(world)[:4] == ["Promoter-App: web", "Promoter-Env: dev", "Promoter-Action: bump",
                                   "Promoter-Tag: v1.1.0"]
    again = world.cli("promote", "web", "dev", "--tag", "v1.1.0")
    assert again.code == 0 and again.out.strip() == "web/dev: unchanged: already at v1.1.0"

    missing = world.cli("promote", "web", "dev", "--tag", "v9.9.9")
    assert missing.code == 1
    assert missing.err.strip() == f"error: the registry has no tag v9.9.9 for {world.image} (3 tags there)"
    bad = world.cli("promote", "web", "dev", "--tag=.v1")
    assert bad.code == 1 and bad.err.startswith("error: '.v1' is not a valid tag: ")
    unknown = world.cli("promote", "web", "qa", "--tag", "v1.1.0")
    assert unknown.code == 1 and unknown.err.strip() == "unknown environment: qa (environments: dev, staging, prod)"
    assert len(world.log()) == 2  # the seed and the one bump


def test_a_rollback_rejects_the_tag_and_allow_makes_it_a_candidate_again(world):
    world.push.image(world.repo, "v1.1.0")
    assert world.cli("run", "--once", "--app", "web").code == 0
    rolled = world.cli("rollback", "web", "dev")
    assert rolled.code == 0, rolled.err
    assert f'{world.image}:v1.0.0"' in world.dev()
    # The promoter does not promote it again, nor does a person by naming it.
    assert "rejected here: v1.1.0 reverted by the promoter" in world.cli("run", "--once").out
    refused = world.cli("promote", "web", "dev", "--tag", "v1.1.0")
    assert refused.code == 1
    assert "v1.1.0 is rejected for dev: reverted by the promoter in" in refused.out
    assert "lift it first with `gitops-promoter allow web dev v1.1.0`" in refused.out

    dev = world.cli("status", "-o", "json").json()[0]
    assert [(r["tag"], r["lift"]) for r in dev["rejected"]] == [("v1.1.0", "gitops-promoter allow web dev v1.1.0")]
    why = world.cli("explain", "web", "dev")
    assert why.code == 0, why.err
    lines = why.out.splitlines()
    assert lines[0] == "web/dev (direct): live v1.0.0"
    assert "policy: semver lenient ^1.0" in lines
    assert "tags the policy considers, newest first: v1.1.0 (rejected), v1.0.0 (live)" in lines
    assert "the policy picks: v1.0.0" in lines
    assert "the next pass does it by itself" not in why.out
    assert any(line.startswith("rejected: v1.1.0: reverted by the promoter in") for line in lines)
    assert "  gitops-promoter allow web dev v1.1.0   # v1.1.0 becomes a candidate again" in lines

    allowed = world.cli("allow", "web", "dev", "v1.1.0")
    assert allowed.code == 0, allowed.err
    assert allowed.out.startswith("web/dev: allowed v1.1.0: it was rejected (reverted by the promoter in")
    assert world.log()[0] == "allow(dev): web v1.1.0"
    assert trailers(world) == ["Promoter-App: web", "Promoter-Env: dev", "Promoter-Action: allow",
                               "Promoter-Tag: v1.1.0"]
    assert git("diff", "--stat", "main^", "main", cwd=world.remote) == ""  # it changes no file
    nothing = world.cli("allow", "web", "dev", "v1.1.0")
    assert nothing.code == 0 and nothing.out.strip() == "web/dev: v1.1.0 is not rejected there; nothing to allow"
    waiting = world.cli("explain", "web", "dev").out.splitlines()
    assert waiting[1:3] == ["last candidate: would-bump → v1.1.0: policy semver lenient ^1.0 picked v1.1.0",
                            "the next pass does it by itself (the service, or `gitops-promoter run --once --app web`)"]
    bumped = world.cli("run", "--once")
    assert bumped.out.splitlines()[0].startswith("web/dev: bumped v1.0.0 → v1.1.0")
    assert f'{world.image}:v1.1.0"' in world.dev()


def test_promote_a_chosen_tag_through_a_pull_request_that_keeps_the_choice(world):
    world.push.image(world.repo, "v1.1.0")
    world.push.image(world.repo, "v1.2.0")
    assert world.cli("run", "--once").code == 0  # dev → v1.2.0; staging's PR proposes v1.2.0
    assert world.github.pulls()[0].title == "promote(staging): web v1.0.0 → v1.2.0"
    chosen = world.cli("promote", "web", "staging", "--tag", "v1.1.0")
    assert chosen.code == 0, chosen.err
    assert chosen.out.startswith("web/staging: updated v1.0.0 → v1.1.0 (#1): now proposes v1.1.0 instead of v1.2.0")
    pull = world.github.pulls()[0]
    assert pull.title == "promote(staging): web v1.0.0 → v1.1.0" and '"chosen": true' in pull.body
    assert "a person chose it (`gitops-promoter promote --tag`)" in pull.body
    # The next pass keeps the person's choice instead of dev's v1.2.0 ...
    assert "web/staging: waiting v1.0.0 → v1.1.0 (#1)" in world.cli("run", "--once").out
    assert world.github.pulls()[0].title == "promote(staging): web v1.0.0 → v1.1.0"
    # ... and merges it once approved.
    world.github.review(1, "alice", "APPROVED")
    assert "web/staging: merged v1.0.0 → v1.1.0 (#1)" in world.cli("run", "--once").out
    assert "newTag: v1.1.0" in remote_file(world.remote, STAGING)
    why = world.cli("explain", "web", "prod").out
    assert "takes what staging runs, by pull request; merges when: 2 approvals from acme/sre" in why


def test_allow_in_a_pull_request_environment_lifts_a_closed_pull_request(world):
    world.push.image(world.repo, "v1.1.0")
    assert world.cli("run", "--once").code == 0  # staging's PR #1 proposes v1.1.0
    world.github.close(1, by="alice")  # a person rejects v1.1.0 for staging
    again = world.cli("run", "--once").out
    assert "web/staging: unchanged: v1.1.0 was rejected for staging: pull request #1 closed unmerged by alice" in again
    assert [p.number for p in world.github.pulls()] == [1]

    allowed = world.cli("allow", "web", "staging", "v1.1.0")
    assert allowed.code == 0, allowed.err
    assert allowed.out.startswith("web/staging: allowed v1.1.0: it was rejected (pull request #1 closed unmerged")
    assert trailers(world) == ["Promoter-App: web", "Promoter-Env: staging", "Promoter-Action: allow",
                               "Promoter-Tag: v1.1.0", "Promoter-PR: 1"]
    assert "web/staging: proposed v1.0.0 → v1.1.0 (#2)" in world.cli("run", "--once").out
    # Closing the new PR rejects the tag again: the allow lifted #1 only.
    world.github.close(2, by="alice")
    assert "v1.1.0 was rejected for staging: pull request #2 closed unmerged by alice" in world.cli("run", "--once").out


def test_a_rejected_chosen_tag_is_refused_and_leaves_the_open_pull_request_alone(world):
    world.push.image(world.repo, "v1.1.0")
    assert world.cli("run", "--once").code == 0  # PR #1 proposes v1.1.0 for staging
    world.github.close(1, by="alice")  # v1.1.0 rejected for staging
    world.push.image(world.repo, "v1.2.0")
    assert "web/staging: proposed v1.0.0 → v1.2.0 (#2)" in world.cli("run", "--once").out
    refused = world.cli("promote", "web", "staging", "--tag", "v1.1.0")
    assert refused.code == 1
    assert refused.out.strip() == ("web/staging: waiting (#2): v1.1.0 was rejected for staging: pull request #1 "
                                   "closed unmerged by alice; lift it first with `gitops-promoter allow web staging "
                                   "v1.1.0`")
    assert [(p.number, p.state) for p in world.github.pulls()] == [(1, "closed"), (2, "open")]
