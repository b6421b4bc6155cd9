"""Discover: registry → policy → direct commit, for one app × `direct` environment.

Each app × environment ends in an Outcome (errors included), so one bad app never stops the
rest; `reconcile` walks the environments and the caller decides the exit code.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_promoter.config.schema import AppConfig, TargetConfig
from gitops_promoter.domain.edits import read_running, write_version
from gitops_promoter.domain.history import moved_back_by_hand, rejected_tags
from gitops_promoter.domain.plan import Bump, NoChange, commit_message, plan_bump
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo, is_valid_tag
from gitops_promoter.ports import Change, Committed, DeployRepo, Registry, Unchanged
from gitops_promoter.workflows.outcome import Outcome, file_diff, guarded


def bump(app: AppConfig, target: TargetConfig, *, registry: Registry, repo: DeployRepo, dry_run: bool,
         tag: str | None = None) -> Outcome:
    """One app × direct environment: commit the tag the policy picks, or say why not. `tag`: a
    person's choice (`promote --tag`) instead of the policy's pick; a rejected tag stays refused."""
    return guarded(app.name, target.env,
                   lambda: _promote(app, target, registry=registry, repo=repo, dry_run=dry_run, tag=tag))


def gather_tags(registry: Registry, image: str, policy: Policy) -> list[TagInfo]:
    """The image's tags with the metadata the policy needs, asked only for tags that pass the
    policy's filters (a newest-build policy costs one config lookup per candidate, not per tag).
    Only OCI tags reach the policy: the registry adapter skips (and warns about) the others, and
    this keeps any other Registry from handing one on."""
    names = [n for n in registry.list_tags(image) if is_valid_tag(n)]
    if policy.needs_created:
        wanted = {c.tag.name for c in policy.candidates(TagInfo(n) for n in names)}
        where = {"platform": policy.platform} if policy.platform else {}
        return [TagInfo(n, created=registry.created(image, n, **where) if n in wanted else None) for n in names]
    if policy.needs_digest:
        return [TagInfo(n, digest=registry.digest(image, n) if n == policy.constraint else None) for n in names]
    return [TagInfo(n) for n in names]


def _promote(app: AppConfig, target: TargetConfig, *, registry: Registry, repo: DeployRepo,
             dry_run: bool, tag: str | None = None) -> Outcome:
    source = f"{repo.name}:{target.file}"
    policy = app.policy
    tags = gather_tags(registry, app.image, policy) if tag is None else []
    running = read_running(repo.read(target.file), target.edit, source=source)
    history = repo.history(app=app.name)
    rejected = rejected_tags(history, app=app.name, env=target.env)
    rejected.update(moved_back_by_hand(history, app=app.name, env=target.env, running_tag=running.tag,
                                       policy=policy))
    if tag is None:
        plan = plan_bump(app=app.name, env=target.env, policy=policy, running=running, candidates=tags,
                         rejected=rejected)
    elif tag in rejected:
        return Outcome(app.name, target.env, "error", f"{tag} is rejected for {target.env}: {rejected[tag]}; lift "
                       f"it first with `gitops-promoter allow {app.name} {target.env} {tag}`",
                       from_tag=running.tag, error_kind="permanent")
    elif tag == running.tag:
        plan = NoChange(app.name, target.env, f"already at {tag}")
    else:
        plan = Bump(app.name, target.env, running.tag, tag, None, f"{tag} chosen by a person (gitops-promoter "
                                                                  "promote --tag)")
    if isinstance(plan, NoChange):
        return Outcome(app.name, target.env, "unchanged", plan.reason, from_tag=running.tag)
    digest = plan.digest or registry.digest(app.image, plan.tag)
    plan = Bump(plan.app, plan.env, plan.from_tag, plan.tag, digest, plan.reason)

    # With the digest strategy the digest is the version, so it is always written.
    pin = target.pin_digest or policy.needs_digest

    def edit(text: str) -> str:
        return write_version(text, target.edit, image=app.image, tag=plan.tag, digest=digest, pin=pin,
                             source=source)

    gates: tuple[int, ...] = ()
    arms: tuple[tuple[str, Callable[[str], str]], ...] = ()
    if app.canary is not None:  # canary code loads for an app that has one
        from gitops_promoter.workflows.canary import arming

        gates, arms = arming(app, target, history, repo=repo.name)
    result = repo.commit(Change(target.file, edit, commit_message(plan, gates=gates, template=app.commit_title),
                                also=arms), dry_run=dry_run)
    if isinstance(result, tuple):
        before, after = result
        return Outcome(app.name, target.env, "would-bump", plan.reason, plan.from_tag, plan.tag,
                       diff=file_diff(before, after, target.file))
    if isinstance(result, Unchanged):
        return Outcome(app.name, target.env, "unchanged", result.reason, from_tag=running.tag)
    assert isinstance(result, Committed)
    return Outcome(app.name, target.env, "bumped", plan.reason, plan.from_tag, plan.tag, sha=result.sha)
