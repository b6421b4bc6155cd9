"""Soak time: a tag is proposed to an environment only after it has run, canary completed, for
`environments[].soak` in the environment before — Kargo's ``requiredSoakTime`` (akuity/kargo: a Stage's
``spec.requestedFreight[].sources.requiredSoakTime``, set on the Stage that receives the Freight and
counted from when the Freight was verified upstream; ``ListWarehouseFreightOptions.VerifiedBefore =
now - requiredSoakTime``).

Here "since" comes from git, the promoter's record: the commit time of the release's last commit in the
environment before — its bump (a direct commit or the merge of its pull request) or, with a canary, the
pass of its last gate, after which the Rollout only walks its timed steps. That the canary completed
is checked on the Rollout itself (domain.canary.unhealthy) before the soak is counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gitops_promoter.domain.history import Commit, current_release

MAX_SOAK = 30 * 24 * 3600.0  # a month; longer is a mistake in the config


@dataclass(frozen=True)
class SoakWait:
    """Why the candidate waits, and how long until it may be proposed (None: until git says more)."""

    reason: str
    left: float | None


def since(history: Sequence[Commit], *, app: str, env: str, tag: str,
          commit_time: Callable[[str], float | None]) -> float | None:
    """When `tag` started running, canary completed as far as git says, in `env`: the commit time
    (`commit_time`: sha → seconds) of the newest commit of the promoter's live release of `tag` there.
    None when the live release there is not the promoter's release of `tag`, or its time is unknown."""
    release = current_release(history, app=app, env=env)
    if release is None or release.tag != tag:
        return None
    return commit_time(release.commits[0])


def soak_wait(*, tag: str, source_env: str, soak: float, since: float | None, now: float) -> SoakWait | None:
    """None when `tag` has soaked `soak` seconds in `source_env` since `since`; else why it waits and
    how long is left. Missing data is never a pass: without `since` the tag waits."""
    if soak <= 0:
        return None
    need = duration(soak)
    if since is None or not math.isfinite(since):
        return SoakWait(f"{tag} must soak {need} in {source_env}, and no promoter commit there records since when "
                        f"{source_env} runs it (a person's edit); promote it by hand (gitops-promoter promote) or "
                        "let the promoter release it there", None)
    left = since + soak - now
    if left <= 0:
        return None
    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SoakWait(f"{tag} soaks in {source_env}: {duration(left)} left of {need} (running, canary completed, "
                    f"since {started})", left)


def duration(seconds: float) -> str:
    """`1h2m3s` as a person reads it (whole seconds, rounded up so "0s left" is never said)."""
    total = max(1, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts)
