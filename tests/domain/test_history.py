"""Release state and rejected tags, rebuilt from commit trailers."""

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
