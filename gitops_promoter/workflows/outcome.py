"""What happened to one app × environment in one pass: the line `run` and `status` print."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gitops_promoter.errors import PromoterError, ReadStale, TransientError

log = logging.getLogger(__name__)

Status = Literal["bumped", "would-bump", "unchanged", "error", "proposed", "updated", "rebuilt", "waiting",
                 "merged", "closed", "would-propose", "would-close", "live", "advanced", "reverted",
                 "inconclusive", "analysing"]
ErrorKind = Literal["transient", "permanent"]


@dataclass(frozen=True)
class Outcome:
    app: str
    env: str
    status: Status
    detail: str
    from_tag: str | None = None
    to_tag: str | None = None
    sha: str | None = None
    diff: str | None = None
    pr: int | None = None
    requeue_after: float | None = None  # seconds: the promoter has its own work to do then (analysis, retry)
    error_kind: ErrorKind | None = None  # for errors: transient (retry with backoff) or permanent (park)
    stage: str = ""  # "write-back" (a bump or a pull request) or "canary": what part of the environment
    rollback: str | None = None  # `status`: the git command that rolls back the live release

    def line(self) -> str:
        head = f"{self.app}/{self.env}: {self.status}"
        if self.to_tag and self.status != "unchanged":
            moved = f"{self.from_tag or '(none)'} → {self.to_tag}" if self.from_tag != self.to_tag else self.to_tag
            head += f" {moved}"
        if self.pr is not None:
            head += f" (#{self.pr})"
        tail = f" [{self.sha[:10]}]" if self.sha else ""
        return f"{head}: {self.detail}{tail}"

    def status_line(self) -> str:
        """The `status` view: what runs now first, then what is moving and why."""
        live = self.from_tag or "(none)"
        move = f" → {self.to_tag}" if self.to_tag and self.to_tag != self.from_tag else ""
        pr = f" (#{self.pr})" if self.pr is not None else ""
        back = f"; roll back: {self.rollback}" if self.rollback else ""
        return f"{self.app}/{self.env}: live {live}; {self.status}{move}{pr}: {self.detail}{back}"


def guarded(app: str, env: str, work: Callable[[], Outcome]) -> Outcome:
    """Run one app × environment; any failure becomes that pair's error outcome, so one bad app
    never stops the others (a bug is logged with its traceback). The error's kind chooses what
    the scheduler does next: a transient fault is retried with backoff (its Retry-After when it
    has one), anything else parks the pair until its config or repository changes. A write that
    found its file moved since it was read (ReadStale) decides once more at once, on the new head."""
    try:
        try:
            return work()
        except ReadStale as exc:
            log.info("%s/%s: %s", app, env, exc, extra={"app": app, "env": env})
            return work()
    except TransientError as exc:
        log.warning("%s/%s: %s", app, env, exc, extra={"app": app, "env": env})
        return Outcome(app, env, "error", str(exc), requeue_after=exc.retry_after, error_kind="transient")
    except OSError as exc:  # the machine, not the app: out of file descriptors, a full disk
        log.warning("%s/%s: %s", app, env, exc, extra={"app": app, "env": env})
        return Outcome(app, env, "error", f"{type(exc).__name__}: {exc}", error_kind="transient")
    except PromoterError as exc:
        log.warning("%s/%s: %s", app, env, exc, extra={"app": app, "env": env})
        return Outcome(app, env, "error", str(exc), error_kind="permanent")
    except Exception as exc:  # noqa: BLE001 - one app's bug must not stop the others
        log.exception("%s/%s: unexpected failure", app, env, extra={"app": app, "env": env})
        return Outcome(app, env, "error", f"internal error: {type(exc).__name__}: {exc}", error_kind="permanent")


def file_diff(before: str, after: str, path: str) -> str:
    """A unified diff of one file, as `git diff` labels it."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}"))
