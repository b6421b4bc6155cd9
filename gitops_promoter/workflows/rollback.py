"""Rollback: undo an environment's live release of the promoter's with one revert commit.

`gitops-promoter rollback APP ENV` uses it in every environment (with or without a canary), and
the canary uses it when an analysis fails or the Rollout aborts. The commit undoes the release's
commits newest first — its gate advances, then its bump (the bump armed the gates the advances
passed, so reverting the bump alone would not apply) — and its trailers say
`Promoter-Action: revert`, so the tag is rejected for that environment from then on.

Where the remote refuses pushes to the branch (a protected branch), the same commit goes on the
promoter-owned branch `gitops-promoter/rollback-<env>-<app>` and a pull request proposes it: one
per app × environment, reused while it is open. A person merges it, with any method: the commit
(or, squashed, the pull request's description) carries the revert lines and the trailers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitops_promoter.domain.history import Release, current_release
from gitops_promoter.domain.plan import render_message
from gitops_promoter.errors import CodeHostRejected, PermanentError
from gitops_promoter.ports import CodeHost, DeployRepo, PullRequest, PushRefused
from gitops_promoter.workflows.outcome import Outcome, guarded

BY_A_PERSON = "rolled back by a person (gitops-promoter rollback)"


@dataclass(frozen=True)
class Rollback:
    """One app × environment to roll back, and where a revert pull request would go."""

    app: str
    env: str
    repo: DeployRepo
    host: CodeHost | None = None
    host_problem: str | None = None  # why the repository's code host cannot be used, when it is None


def branch_name(env: str, app: str) -> str:
    """The promoter-owned branch a revert pull request comes from."""
    return f"gitops-promoter/rollback-{env}-{app}"


def rollback(r: Rollback, *, why: str = BY_A_PERSON) -> Outcome:
    """Revert the environment's live release of the promoter's, or say there is none."""
    return guarded(r.app, r.env, lambda: _rollback(r, why))


def _rollback(r: Rollback, why: str) -> Outcome:
    release = current_release(r.repo.history(app=r.app), app=r.app, env=r.env)
    if release is None:
        return Outcome(r.app, r.env, "unchanged",
                       f"nothing to roll back: {r.env} has no live release of the promoter's")
    return revert_release(r, release, why=why)


def revert_message(app: str, env: str, release: Release, *, why: str, details: Sequence[str] = ()) -> str:
    """`revert(<env>): <app> <tag>`, why (and the analysis' details), a "This reverts commit <sha>."
    line per commit, newest first, and the trailers that reject the tag."""
    body = [f"{why[0].upper()}{why[1:]}.", *details, ""]
    body += [f"This reverts commit {sha}." for sha in release.commits]
    trailers = {"Promoter-App": app, "Promoter-Env": env, "Promoter-Action": "revert", "Promoter-Tag": release.tag}
    if release.digest:
        trailers["Promoter-Digest"] = release.digest
    return render_message(f"revert({env}): {app} {release.tag}", body, trailers)


def revert_release(r: Rollback, release: Release, *, why: str, details: Sequence[str] = ()) -> Outcome:
    """One revert commit of `release` on the branch; where the branch refuses the push, the same
    commit in a revert pull request. `why` says who asked (a person, or the canary and why)."""
    message = revert_message(r.app, r.env, release, why=why, details=details)
    commits = list(release.commits)
    try:
        result = r.repo.revert(commits, message=message)
    except PushRefused as refused:
        return _propose(r, release, commits, message, refused=refused, why=why)
    return Outcome(r.app, r.env, "reverted", f"{release.tag}: {why}; {release.tag} is rejected for {r.env}",
                   from_tag=release.tag, to_tag=release.tag, sha=result.sha)


def _propose(r: Rollback, release: Release, commits: list[str], message: str, *, refused: PushRefused,
             why: str) -> Outcome:
    refusal = f"pushing to {refused.branch} is refused ({refused.reason})"
    if r.host is None:
        problem = f"; {r.host_problem}" if r.host_problem else ""
        raise PermanentError(f"{refusal}, and repository {r.repo.name} has no github section to open a revert "
                             f"pull request with{problem}")
    branch = branch_name(r.env, r.app)
    committed = r.repo.propose_revert(commits, message=message, branch=branch)
    title = f"Roll back {r.app} in {r.env}: {release.tag}"
    text = _body(r, release, message, refusal=refusal, why=why)
    tag = release.tag
    open_pr = next((p for p in r.host.open_pulls(base=r.repo.branch) if p.head_ref == branch), None)
    if open_pr is not None:
        if (open_pr.title, _same(open_pr.body)) != (title, _same(text)):
            r.host.update_pull(open_pr.number, title=title, body=text)
        return Outcome(r.app, r.env, "waiting", f"{refusal}; revert pull request #{open_pr.number} is open, for a "
                                                "person to merge", from_tag=tag, to_tag=tag, sha=committed.sha,
                       pr=open_pr.number)
    pr = _create(r, branch, title, text)
    return Outcome(r.app, r.env, "proposed", f"{refusal}; opened revert pull request #{pr.number}",
                   from_tag=tag, to_tag=tag, sha=committed.sha, pr=pr.number)


def _create(r: Rollback, branch: str, title: str, text: str) -> PullRequest:
    assert r.host is not None
    try:
        return r.host.create_pull(head_branch=branch, base=r.repo.branch, title=title, body=text, labels=())
    except CodeHostRejected as exc:
        if exc.status != 422:
            raise
        # "A pull request already exists" (opened since we looked): adopt it.
        existing = next(iter(r.host.pulls(head_branch=branch, state="open")), None)
        if existing is None:
            raise
        r.host.update_pull(existing.number, title=title, body=text)
        return existing


def _body(r: Rollback, release: Release, message: str, *, refusal: str, why: str) -> str:
    """Who asked and why, what it reverts, what merging it does; then the commit's own lines, so a
    squash merge that takes the description carries the revert and its trailers too."""
    subjects = {c.sha: c.subject for c in r.repo.history(app=r.app)}
    lines = [f"Rolls **{r.app}** `{release.tag}` back in **{r.env}**: {why}.", "",
             f"The promoter could not push the revert itself: {refusal}.", "",
             "It reverts these commits of the release, newest first:", ""]
    lines += [f"- {sha[:10]} {subjects.get(sha, '')}".rstrip() for sha in release.commits]
    lines += ["", f"Merging it puts {r.env} back on what ran before {release.tag}; {release.tag} is then rejected "
                  f"for {r.env} and never promoted there again. The promoter does not merge it.", "",
              message[message.index("This reverts commit"):].strip()]
    return "\n".join(lines) + "\n"


def _same(text: str) -> str:
    return text.replace("\r\n", "\n").strip()
