"""What happened to one app × environment in one pass: the line `run` and `status` print."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["bumped", "would-bump", "unchanged", "error", "proposed", "updated", "rebuilt", "waiting",
                 "merged", "closed", "would-propose", "would-close", "live", "advanced", "reverted", "rearmed",
                 "inconclusive"]


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
        return f"{self.app}/{self.env}: live {live}; {self.status}{move}{pr}: {self.detail}"
