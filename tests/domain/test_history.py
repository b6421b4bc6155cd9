"""Release state and rejected tags, rebuilt from commit trailers."""

import pytest

from gitops_promoter.domain.history import Commit, current_release, rejected_tags


def c(sha, subject, **trailers):
    body = "\n".join(f"{k.replace('_', '-')}: {v}" for k, v in trailers.items())
    return Commit(sha * 40 if len(sha) == 1 else sha, subject, f"{subject}\n\n{body}\n" if body else subject)


def bump(sha, tag, env="dev"):
    return c(sha, f"promote({env}): web → {tag}", Promoter_App="web", Promoter_Env=env, Promoter_Action="bump",
             Promoter_Tag=tag)


def advance(sha, step):
    return c(sha, f"advance(dev): web step {step}", Promoter_App="web", Promoter_Env="dev",
             Promoter_Action="advance", Promoter_Step=str(step), Promoter_Tag="v2")


def test_release_with_advances_newest_first_for_revert():
    history = [advance("c", 5), c("h", "human edit"), advance("b", 1), bump("a", "v2"), bump("0", "v1")]
    release = current_release(history, app="web", env="dev")
    assert release.tag == "v2" and release.advanced_steps == (1, 5)
    assert release.commits == ("c" * 40, "b" * 40, "a" * 40)


def test_other_apps_and_envs_do_not_count():
    history = [bump("b", "v9", env="staging"), bump("a", "v2")]
    assert current_release(history, app="web", env="dev").tag == "v2"
    assert current_release(history, app="api", env="dev") is None


def test_a_human_revert_rejects_the_tag_and_ends_the_release():
    history = [Commit("d" * 40, 'Revert "promote(dev): web → v2"',
                      'Revert "promote(dev): web → v2"\n\nThis reverts commit aaaaaaaaaaaa.\n'), bump("a", "v2")]
    assert current_release(history, app="web", env="dev") is None
    assert rejected_tags(history, app="web", env="dev") == {
        "v2": 'reverted in dddddddddd (Revert "promote(dev): web → v2")'}


def test_the_promoters_revert_rejects_the_tag():
    revert = c("r", "revert(dev): web v2", Promoter_App="web", Promoter_Env="dev", Promoter_Action="revert",
               Promoter_Tag="v2")
    history = [revert, advance("b", 1), bump("a", "v2")]
    assert current_release(history, app="web", env="dev") is None
    assert rejected_tags(history, app="web", env="dev") == {
        "v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"}


def test_a_newer_bump_after_a_revert_is_live():
    revert = c("r", "revert", Promoter_App="web", Promoter_Env="dev", Promoter_Action="revert", Promoter_Tag="v2")
    history = [bump("n", "v3"), revert, bump("a", "v2")]
    assert current_release(history, app="web", env="dev").tag == "v3"
    assert rejected_tags(history, app="web", env="dev") == {"v2": "reverted by the promoter in rrrrrrrrrr (revert)"}


def test_a_persons_revert_of_an_advance_is_recorded_on_the_release():
    person = Commit("p" * 40, 'Revert "advance(dev): web v2 gate 1"', f"Revert\n\nThis reverts commit {'b' * 40}.\n")
    release = current_release([advance("c", 5), person, advance("b", 1), bump("a", "v2")], app="web", env="dev")
    assert release.advanced_steps == (5,) and release.undone == (("p" * 40, 1),)
    assert release.undone_at(1) == "p" * 40


def test_known_gates_are_every_step_the_promoter_ever_passed():
    from gitops_promoter.domain.history import known_gates

    history = [advance("d", 3), bump("c", "v3"), advance("b", 1), bump("a", "v2"),
               c("x", "advance", Promoter_App="api", Promoter_Env="dev", Promoter_Action="advance",
                 Promoter_Step="7")]
    assert known_gates(history, app="web", env="dev") == (1, 3)
    assert known_gates(history, app="web", env="prod") == ()


def test_moving_back_by_hand_rejects_the_release_tag():
    from gitops_promoter.domain.history import moved_back_by_hand
    from gitops_promoter.domain.policy import Policy

    history = [bump("a", "v2")]
    policy = Policy.build(strategy="semver")
    assert moved_back_by_hand(history, app="web", env="dev", running_tag="v1", policy=policy) == {
        "v2": "rolled back by hand to v1 (after aaaaaaaaaa)"}
    assert moved_back_by_hand(history, app="web", env="dev", running_tag="v3", policy=policy) == {}  # forward
    assert moved_back_by_hand(history, app="web", env="dev", running_tag="v2", policy=policy) == {}


def test_a_step_trailer_in_other_digits_or_absurdly_long_is_not_a_step():
    from gitops_promoter.domain.history import known_gates

    odd = [c(x, "advance", Promoter_App="web", Promoter_Env="dev", Promoter_Action="advance", Promoter_Step=step)
           for x, step in (("b", "٣"), ("d", "9" * 5000), ("e", "²"), ("f", "4"))]
    assert known_gates(odd, app="web", env="dev") == (4,)
    assert current_release([*odd, bump("a", "v2")], app="web", env="dev").advanced_steps == (4,)


# --- a person's `allow` lifts a rejection -------------------------------------------------------

def allow(sha, tag, env="dev", **extra):
    return c(sha, f"allow({env}): web {tag}", Promoter_App="web", Promoter_Env=env, Promoter_Action="allow",
             Promoter_Tag=tag, **extra)


def promoter_revert(sha, tag, env="dev"):
    return c(sha, f"revert({env}): web {tag}", Promoter_App="web", Promoter_Env=env, Promoter_Action="revert",
             Promoter_Tag=tag)


def person_revert(sha, of):
    return Commit(sha * 40, "Revert", f"Revert\n\nThis reverts commit {of * 40}.\n")


@pytest.mark.parametrize(("history", "expected"), [
    pytest.param([allow("l", "v2"), promoter_revert("r", "v2"), bump("a", "v2")], {},
                 id="allow-lifts-a-promoter-revert"),
    pytest.param([allow("l", "v2"), person_revert("p", "a"), bump("a", "v2")], {}, id="allow-lifts-a-persons-revert"),
    pytest.param([promoter_revert("s", "v2"), bump("b", "v2"), allow("l", "v2"), promoter_revert("r", "v2"),
                  bump("a", "v2")], {"v2": "reverted by the promoter in ssssssssss (revert(dev): web v2)"},
                 id="a-rejection-after-the-allow-stands"),
    pytest.param([allow("l", "v2"), promoter_revert("r", "v3"), promoter_revert("q", "v2")],
                 {"v3": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v3)"}, id="only-the-allowed-tag"),
    pytest.param([allow("l", "v2", env="prod"), promoter_revert("r", "v2")],
                 {"v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"}, id="only-its-environment"),
    pytest.param([c("l", "allow", Promoter_App="api", Promoter_Env="dev", Promoter_Action="allow",
                    Promoter_Tag="v2"), promoter_revert("r", "v2")],
                 {"v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"}, id="only-its-app"),
    pytest.param([person_revert("p", "e"), allow("e", "v2"), promoter_revert("r", "v2")],
                 {"v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"},
                 id="an-allow-a-person-reverted-does-not-count"),
    pytest.param([promoter_revert("r", "v2"), allow("l", "v2")],
                 {"v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"},
                 id="an-allow-before-any-rejection-lifts-nothing-later"),
    pytest.param([c("l", "allow", Promoter_App="web", Promoter_Env="dev", Promoter_Action="allow"),
                  promoter_revert("r", "v2")],
                 {"v2": "reverted by the promoter in rrrrrrrrrr (revert(dev): web v2)"}, id="an-allow-without-a-tag"),
])
def test_allow_lifts_older_rejections_of_its_tag(history, expected):
    assert rejected_tags(history, app="web", env="dev") == expected


def test_allowed_tags_newest_standing_record_per_tag_with_its_pull_request_number():
    from gitops_promoter.domain.history import Allowed, allowed_tags

    history = [allow("n", "v2", Promoter_PR="7"), allow("m", "v2", Promoter_PR="3"), allow("k", "v3"),
               person_revert("p", "d"), allow("d", "v4"), allow("i", "v5", Promoter_PR="٣"),
               allow("h", "v6", Promoter_PR="9" * 12)]
    assert allowed_tags(history, app="web", env="dev") == {
        "v2": Allowed("n" * 40, 7), "v3": Allowed("k" * 40, None), "v5": Allowed("i" * 40, None),
        "v6": Allowed("h" * 40, None)}
    assert allowed_tags(history, app="web", env="prod") == {}


def test_an_allow_is_no_release_and_no_gate():
    from gitops_promoter.domain.history import known_gates

    history = [allow("l", "v2"), promoter_revert("r", "v2"), advance("b", 1), bump("a", "v2")]
    assert current_release(history, app="web", env="dev") is None
    assert current_release([allow("l", "v1"), bump("a", "v2")], app="web", env="dev").tag == "v2"
    assert known_gates(history, app="web", env="dev") == (1,)


def test_allow_after_moving_back_by_hand_lifts_it_and_an_older_allow_does_not():
    from gitops_promoter.domain.history import moved_back_by_hand
    from gitops_promoter.domain.policy import Policy

    policy = Policy.build(strategy="semver")
    assert moved_back_by_hand([allow("l", "v2"), bump("a", "v2")], app="web", env="dev", running_tag="v1",
                              policy=policy) == {}
    assert moved_back_by_hand([bump("a", "v2"), allow("l", "v2")], app="web", env="dev", running_tag="v1",
                              policy=policy) == {"v2": "rolled back by hand to v1 (after aaaaaaaaaa)"}
    assert moved_back_by_hand([allow("l", "v3"), bump("a", "v2")], app="web", env="dev", running_tag="v1",
                              policy=policy) == {"v2": "rolled back by hand to v1 (after aaaaaaaaaa)"}
    assert moved_back_by_hand([person_revert("p", "e"), allow("e", "v2"), bump("a", "v2")], app="web", env="dev",
                              running_tag="v1", policy=policy) == {"v2": "rolled back by hand to v1 (after aaaaaaaaaa)"}
