"""Propose: staging and prod take what the environment before them runs, through one pull
request per app × environment that merges itself when the O&M approval rule holds.

Each reconcile, per app × pull-request environment:

1. read what the previous environment runs (the candidate) and what this one runs;
2. learn the rejected tags: promoter PRs a person closed without merging;
3. plan (domain.proposal): propose the candidate, or say why not — and close an open PR that
   no longer has a candidate, with a comment;
4. make the PR carry the proposal: create it, or rewrite its branch and body for a newer tag;
5. on the PR's current head, evaluate the rule (domain.approval); merge when it holds.
   Only a real conflict (GitHub: `mergeable: false` / `dirty`) rebuilds the branch on the target
   branch; any other refusal (branch protection wants reviews or checks) is reported as
   "GitHub refuses the merge: …" and waited on with nothing pushed; a moved head waits for the
   next pass; a merge method the repository disallows is an error naming the allowed ones.

Every comment carries a hidden marker for its event and is looked up before it is posted, so a
retried pass (or a POST whose answer was lost) never says the same thing twice.

With `observe=True` nothing is written: the same reads and verdicts feed `status`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gitops_promoter.config.schema import AppConfig, EnvironmentConfig, TargetConfig
from gitops_promoter.domain.approval import Rule, Verdict, evaluate, teams_of
from gitops_promoter.domain.canary import unhealthy
from gitops_promoter.domain.edits import Running, read_running, write_version
from gitops_promoter.domain.history import Commit, allowed_tags, find_bump, moved_back_by_hand, rejected_tags
from gitops_promoter.domain.plan import Bump, commit_message
from gitops_promoter.domain.proposal import Proposal, body, branch_name, parse_marker, plan_promotion, title
from gitops_promoter.domain.rollout import canary_steps
from gitops_promoter.domain.soak import SoakWait, since, soak_wait
from gitops_promoter.errors import (
    CodeHostRejected,
    CodeHostUnavailable,
    HeadMoved,
    MergeConflict,
    MergeRefused,
    PromoterError,
)
from gitops_promoter.ports import Change, Cluster, CodeHost, Committed, DeployRepo, Expirable, PullRequest, Registry
from gitops_promoter.workflows.canary import arming
from gitops_promoter.workflows.outcome import Outcome, file_diff, guarded

#: Seconds before an app whose PR closed since the listing of open PRs is looked at again.
STALE_REQUEUE = 1.0


@dataclass(frozen=True)
class Step:
    """One app × pull-request environment, with everything it needs."""

    app: AppConfig
    env: EnvironmentConfig
    source_env: str
    target: TargetConfig
    source: TargetConfig
    repo: DeployRepo
    host: CodeHost
    registry: Registry
    clusters: Mapping[str, Cluster]
    clock: Callable[[], float] = time.time  # seconds since the epoch (soak times are git commit times)

    @property
    def rule(self) -> Rule:
        return self.env.approval or Rule()


def propose(step: Step, *, dry_run: bool = False, observe: bool = False, tag: str | None = None) -> Outcome:
    """One app × pull-request environment; every failure becomes its error outcome. `tag`: a
    person's choice (`promote --tag`) instead of what the environment before runs; an open PR
    that carries a person's choice keeps it on later passes."""
    return guarded(step.app.name, step.env.name, lambda: _one(step, dry_run=dry_run, observe=observe, tag=tag))


def _read(step: Step, target: TargetConfig) -> Running:
    return read_running(step.repo.read(target.file), target.edit, source=f"{step.repo.name}:{target.file}")


def _source_unhealthy(step: Step, candidate: Running) -> str | None:
    """With a canary in the source environment, its Rollout must have completed on the candidate.
    A cluster that cannot be asked is a reason to wait: missing data is never a pass."""
    src = step.source
    if step.app.canary is None or not src.rollout or not src.cluster or candidate.tag is None:
        return None
    cluster = step.clusters.get(src.cluster)
    if cluster is None:
        return f"cluster {src.cluster} cannot be observed"
    try:
        view = cluster.rollout(src.rollout)
    except PromoterError as exc:
        return f"cannot read the Rollout: {exc}"
    steps = canary_steps(step.repo.read(src.steps_file), source=f"{step.repo.name}:{src.steps_file}")
    return unhealthy(view, tag=candidate.tag, steps=len(steps))


def _rejected(step: Step, prs: list[PullRequest], tag: str | None, bot: str,
              lifted: int | None = None) -> dict[str, str]:
    """Tags a person rejected for this environment by closing a promoter PR unmerged. Only PRs for
    the candidate tag are looked at closely (one request each), not the whole history. PRs up to
    number `lifted` no longer count (a person's `allow` of the tag)."""
    out: dict[str, str] = {}
    for pr in prs:
        facts = parse_marker(pr.body)
        if pr.state != "closed" or pr.merged or facts is None or facts.get("tag") != tag:
            continue
        if lifted is not None and pr.number <= lifted:
            continue
        fresh = step.host.pull(pr.number)
        if fresh.merged or (fresh.closed_by or "").lower() == bot.lower():
            continue
        out[str(tag)] = f"pull request #{pr.number} closed unmerged by {fresh.closed_by or 'someone'}"
    return out


def _closed_pulls(step: Step, branch: str, open_pr: PullRequest | None, *, candidate: Running, running: Running,
                  rejected: dict[str, str], chosen: bool) -> list[PullRequest]:
    """The branch's closed PRs, asked of the code host only when a person's closing one can change
    this pass's decision: the candidate would be proposed and no open PR proposes it yet. Every
    other pass needs the one listing of open PRs alone."""
    tag = candidate.tag
    if tag is None or tag in rejected:
        return []
    if open_pr is not None and (parse_marker(open_pr.body) or {}).get("tag") == tag:
        return []
    plan = plan_promotion(app=step.app.name, env=step.env.name, source_env=step.source_env, policy=step.app.policy,
                          candidate=candidate, running=running, rejected=rejected, chosen=chosen)
    if plan.proposal is None:
        return []
    return step.host.pulls(head_branch=branch, state="closed")


def _one(step: Step, *, dry_run: bool, observe: bool, tag: str | None = None) -> Outcome:
    app, env = step.app.name, step.env.name
    running = _read(step, step.target)
    bot = step.host.login()
    branch = branch_name(env, app)
    open_pr = next((p for p in step.host.open_pulls(base=step.repo.branch) if p.head_ref == branch), None)
    if tag is None and open_pr is not None:  # an open PR carrying a person's choice keeps it
        facts = parse_marker(open_pr.body) or {}
        kept = facts.get("tag") if facts.get("chosen") is True else None
        tag = kept if isinstance(kept, str) else None
    candidate = _read(step, step.source) if tag is None else Running(None, tag, None)
    history = step.repo.history(app=app)
    rejected = rejected_tags(history, app=app, env=env)
    rejected.update(moved_back_by_hand(history, app=app, env=env, running_tag=running.tag, policy=step.app.policy))
    allowed = allowed_tags(history, app=app, env=env).get(candidate.tag or "")
    prs = _closed_pulls(step, branch, open_pr, candidate=candidate, running=running, rejected=rejected,
                        chosen=tag is not None)
    rejected.update(_rejected(step, prs, candidate.tag, bot, lifted=allowed.pull if allowed else None))
    plan = plan_promotion(app=app, env=env, source_env=step.source_env, policy=step.app.policy, candidate=candidate,
                          running=running, rejected=rejected, chosen=tag is not None,
                          source_unhealthy=None if tag is not None else _source_unhealthy(step, candidate))
    if plan.proposal is None:
        if open_pr is None:
            return Outcome(app, env, "unchanged", plan.reason, from_tag=running.tag)
        if plan.keep_open:
            return Outcome(app, env, "waiting", plan.reason, from_tag=running.tag, pr=open_pr.number)
        if observe or dry_run:
            return Outcome(app, env, "would-close", plan.reason, from_tag=running.tag, pr=open_pr.number)
        _say(step, open_pr.number, f"close {open_pr.head_sha}", f"Closing: {plan.reason}.")
        step.host.close_pull(open_pr.number)
        return Outcome(app, env, "closed", plan.reason, from_tag=running.tag, pr=open_pr.number)
    wait = _soaking(step, plan.proposal, history)
    if wait is not None:  # the PR, if any, stays open and waits; the service looks again when the soak ends
        return Outcome(app, env, "waiting" if open_pr else "unchanged", wait.reason, from_tag=running.tag,
                       pr=open_pr.number if open_pr else None, requeue_after=wait.left)
    proposal = plan.proposal
    if proposal.digest is None:
        proposal = Proposal(proposal.app, proposal.env, proposal.source_env, proposal.from_tag, proposal.tag,
                            step.registry.digest(step.app.image, proposal.tag), proposal.chosen)
    change = _change(step, proposal, history)
    if dry_run:
        before, after = _dry(step, change)
        return Outcome(app, env, "would-propose", plan.reason, proposal.from_tag, proposal.tag,
                       diff=file_diff(before, after, step.target.file),
                       pr=open_pr.number if open_pr else None)
    if observe:
        if open_pr is None:
            return Outcome(app, env, "live", f"would open a pull request: {plan.reason}", proposal.from_tag,
                           proposal.tag)
        verdict = _verdict(step, step.host.pull(open_pr.number), bot)
        return Outcome(app, env, "waiting", verdict.describe(), proposal.from_tag, proposal.tag, pr=open_pr.number)
    return _drive(step, proposal, change, open_pr, bot)


def _soaking(step: Step, p: Proposal, history: list[Commit]) -> SoakWait | None:
    """`environments[].soak` (domain.soak): what the environment before runs is proposed once it has run
    there, canary completed, that long, counted from its release's last commit there. A tag a person
    chose (`promote --tag`), which the environment before does not run, does not wait."""
    if step.env.soak <= 0 or _read(step, step.source).tag != p.tag:
        return None
    started = since(history, app=p.app, env=step.source_env, tag=p.tag, commit_time=step.repo.commit_time)
    return soak_wait(tag=p.tag, source_env=step.source_env, soak=step.env.soak, since=started, now=step.clock())


def _change(step: Step, p: Proposal, history: list[Commit]) -> Change:
    source = f"{step.repo.name}:{step.target.file}"
    pin = step.target.pin_digest or step.app.policy.needs_digest

    def edit(text: str) -> str:
        return write_version(text, step.target.edit, image=step.app.image, tag=p.tag, digest=p.digest, pin=pin,
                             source=source)

    why = "chosen by a person (gitops-promoter promote --tag)" if p.chosen else f"{p.source_env} runs {p.tag}"
    bump = Bump(p.app, p.env, p.from_tag, p.tag, p.digest, f"{why}; promoted by pull request")
    gates, arms = arming(step.app, step.target, history, repo=step.repo.name)
    return Change(step.target.file, edit, commit_message(bump, gates=gates, template=step.app.commit_title),
                  also=arms)


def _title(step: Step, p: Proposal) -> str:
    return title(p, template=step.app.pull_request_title)


def _dry(step: Step, change: Change) -> tuple[str, str]:
    result = step.repo.commit(change, dry_run=True)
    assert isinstance(result, tuple)
    return result


def _describe(step: Step, p: Proposal, head: str) -> str:
    source_commit = find_bump(step.repo.history(app=p.app), app=p.app, env=p.source_env, tag=p.tag)
    subject = commit_message(Bump(p.app, p.env, p.from_tag, p.tag, p.digest, "x"),
                             template=step.app.commit_title).splitlines()[0]
    return body(p, rule=step.rule.describe(), carried=[(head, subject)], source_commit=source_commit,
                image=step.app.image)


def _drive(step: Step, p: Proposal, change: Change, open_pr: PullRequest | None, bot: str) -> Outcome:
    app, env, branch = p.app, p.env, branch_name(p.env, p.app)
    facts = parse_marker(open_pr.body) if open_pr else None
    same = open_pr is not None and facts is not None and facts.get("tag") == p.tag
    # A PR that already proposes this tag keeps its head (and so its approvals) when it carries it.
    committed = step.repo.propose(change, branch=branch, rebuild=not same)
    if not isinstance(committed, Committed):
        return Outcome(app, env, "unchanged", committed.reason, p.from_tag, p.tag)
    if open_pr is None:
        pr = _create(step, p, branch, _describe(step, p, committed.sha))
        return _maybe_merge(step, p, change, pr.number, bot, "proposed", f"opened {pr.url}")
    if same:
        return _maybe_merge(step, p, change, open_pr.number, bot, "waiting", "")
    old = (facts or {}).get("tag") or "an older proposal"
    step.host.update_pull(open_pr.number, title=_title(step, p), body=_describe(step, p, committed.sha))
    _say(step, open_pr.number, f"superseded {old} {p.tag} {committed.sha}",
         f"Superseded: {old} → {p.tag} ({p.source_env} runs {p.tag} now). "
         "The branch was rebuilt; approvals on the old head no longer count.")
    return _maybe_merge(step, p, change, open_pr.number, bot, "updated", f"now proposes {p.tag} instead of {old}")


def _create(step: Step, p: Proposal, branch: str, text: str) -> PullRequest:
    try:
        return step.host.create_pull(head_branch=branch, base=step.repo.branch, title=_title(step, p), body=text,
                                     labels=step.env.labels)
    except CodeHostRejected as exc:
        if exc.status != 422:
            raise
        # "A pull request already exists": adopt it instead of looping on 422.
        existing = next((pr for pr in step.host.pulls(head_branch=branch, state="open")), None)
        if existing is None:
            raise
        step.host.update_pull(existing.number, title=_title(step, p), body=text)
        return existing


def _verdict(step: Step, pr: PullRequest, bot: str) -> Verdict:
    rule = step.rule
    members = {team: step.host.team_members(team) for team in teams_of(rule)}
    checks = step.host.checks(pr.head_sha) if rule.checks else {}
    return evaluate(rule, reviews=step.host.reviews(pr.number), author=pr.author, bot=bot, head_sha=pr.head_sha,
                    team_members=members, checks=checks)


def _moved(repo: DeployRepo) -> None:
    """The branch moved by the code host's hand (a merge, perhaps one whose answer was lost): the
    rest of the pass reads the new head, so the next environment sees what was just merged."""
    if isinstance(repo, Expirable):
        repo.expire()


def _maybe_merge(step: Step, p: Proposal, change: Change, number: int, bot: str, status: str,
                 detail: str) -> Outcome:
    app, env = p.app, p.env
    pr = step.host.pull(number)
    if pr.state != "open":  # closed or merged since the pass's listing of open PRs: decide again soon
        return Outcome(app, env, "waiting", f"pull request #{number} was {'merged' if pr.merged else 'closed'} "
                                            "meanwhile; deciding again", p.from_tag, p.tag, pr=number,
                       requeue_after=STALE_REQUEUE)
    if pr.mergeable is False:
        return _rebuild(step, p, change, number)
    verdict = _verdict(step, pr, bot)
    if verdict.ok and pr.mergeable is None:
        return Outcome(app, env, "waiting", "approved; GitHub is still computing whether it merges cleanly",
                       p.from_tag, p.tag, pr=number)
    if not verdict.ok:
        text = verdict.describe() if not detail else f"{detail}; {verdict.describe()}"
        return Outcome(app, env, status, text, p.from_tag, p.tag, pr=number)  # type: ignore[arg-type]
    subject, _, rest = change.message.partition("\n\n")
    try:
        sha = step.host.merge(number, sha=pr.head_sha, method=step.env.merge_method, title=subject, message=rest)
        _moved(step.repo)
    except (MergeConflict, MergeRefused, HeadMoved, CodeHostUnavailable) as exc:
        _moved(step.repo)
        # A retried merge may have landed although its answer was lost (a 5xx, then 405 on the
        # retry): ask GitHub before deciding it failed.
        if step.host.pull(number).merged:
            return Outcome(app, env, "merged", verdict.describe(), p.from_tag, p.tag, pr=number)
        if isinstance(exc, MergeConflict):
            return _rebuild(step, p, change, number)
        if isinstance(exc, MergeRefused):
            # Branch protection and the like: pushing cannot fix it, and a rebuild would throw
            # away the approvals it may be waiting for. Say why, and wait.
            return Outcome(app, env, "waiting", f"{exc.detail}; waiting (the promoter's rule holds: "
                                                f"{verdict.describe()})", p.from_tag, p.tag, pr=number)
        if isinstance(exc, HeadMoved):
            return Outcome(app, env, "waiting", "the head moved while merging; evaluating again next pass",
                           p.from_tag, p.tag, pr=number)
        raise
    return Outcome(app, env, "merged", verdict.describe(), p.from_tag, p.tag, sha=sha, pr=number)


def _rebuild(step: Step, p: Proposal, change: Change, number: int) -> Outcome:
    committed = step.repo.propose(change, branch=branch_name(p.env, p.app), rebuild=True)
    sha = committed.sha if isinstance(committed, Committed) else None
    _say(step, number, f"rebuilt {sha or step.host.pull(number).head_sha}",
         f"The branch conflicted with {step.repo.branch}; rebuilt it on the current "
         f"{step.repo.branch}. Approvals on the old head no longer count.")
    return Outcome(p.app, p.env, "rebuilt", "merge conflict: branch rebuilt on the target branch", p.from_tag,
                   p.tag, sha=sha, pr=number)


def _marker(key: str) -> str:
    """The hidden marker of one comment-worthy event (`key`: what happened, on which head)."""
    return f"<!-- gitops-promoter:comment {hashlib.sha256(key.encode()).hexdigest()[:16]} -->"


def _say(step: Step, number: int, key: str, text: str) -> None:
    """Comment once per event: the marker is looked up first, so a pass that is retried after a
    failure (or whose POST landed but lost its answer) does not say it again."""
    marker = _marker(key)
    if any(marker in existing for existing in step.host.comments(number)):
        return
    step.host.comment(number, f"{text}\n\n{marker}")
