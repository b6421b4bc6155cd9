"""The release/rejection index of a deployment repository: its promoter commits by app, and its reverts.

Built once per head from `git log` (only promoter commits and reverts), trailers parsed once, and
extended with the new commits when the head moves forward; so asking for one app's history costs
that app's commits plus the reverts, never apps × commits. Kept beside the clone as a JSON file,
so the next process (`run --once` from cron) reads only what landed since.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gitops_promoter.domain.history import Commit

log = logging.getLogger(__name__)

FORMAT = 2  # 2: records read NUL-separated (an index from 1 is rebuilt)
_SHA = re.compile(r"[0-9a-f]{40}")


class HistoryIndex:
    def __init__(self) -> None:
        self.head: str | None = None
        self._commits: list[Commit] = []  # oldest first
        self._apps: dict[str, list[int]] = {}  # app → positions in _commits, oldest first
        self._reverts: list[int] = []
        self._dirty = False

    def __len__(self) -> int:
        return len(self._commits)

    def extend(self, newest_first: Sequence[Commit], *, head: str) -> None:
        """Add the commits that landed after the indexed head (given newest first, as git log
        lists them) and move the index to `head`."""
        for commit in reversed(newest_first):
            at = len(self._commits)
            self._commits.append(commit)
            app = commit.trailers.get("Promoter-App")
            if app:
                self._apps.setdefault(app, []).append(at)
            if commit.reverts:
                self._reverts.append(at)
        self.head = head
        self._dirty = True

    def of(self, app: str, *, limit: int) -> list[Commit]:
        """The app's promoter commits and every revert, newest first, at most `limit`."""
        mine, reverts = self._apps.get(app, []), self._reverts
        out: list[Commit] = []
        i, j = len(mine) - 1, len(reverts) - 1
        while len(out) < limit and (i >= 0 or j >= 0):
            if j < 0 or (i >= 0 and mine[i] > reverts[j]):
                out.append(self._commits[mine[i]])
                i -= 1
            else:
                if i >= 0 and mine[i] == reverts[j]:  # a promoter commit that is also a revert: once
                    i -= 1
                out.append(self._commits[reverts[j]])
                j -= 1
        return out

    # --- kept across processes -----------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index atomically (a temporary file renamed over the old one). A failure only
        costs the next process a full read."""
        if not self._dirty or self.head is None or not path.parent.is_dir():
            return
        data = {"format": FORMAT, "head": self.head,
                "commits": [[c.sha, c.subject, c.message] for c in self._commits]}
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".promoter-history-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(tmp, path)
            self._dirty = False
        except OSError as exc:
            log.warning("history index %s not saved: %s", path, exc)

    @classmethod
    def load(cls, path: Path) -> HistoryIndex:
        """The index a previous process saved, or an empty one (missing, unreadable, another
        format: rebuilt from git, which is the source of truth)."""
        index = cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("head"), str):
                return index
            commits = [Commit(sha, subject, message) for sha, subject, message in data["commits"]]
            if not all(isinstance(x, str) for c in commits for x in (c.sha, c.subject, c.message)) or \
                    not all(_SHA.fullmatch(c.sha) for c in commits) or not _SHA.fullmatch(data["head"]):
                raise ValueError("not the promoter's index (a sha that is not 40 hex digits, or a value not text)")
        except FileNotFoundError:
            return index
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("history index %s unreadable (%s); reading the history from git", path, exc)
            return index
        index.extend(list(reversed(commits)), head=data["head"])
        index._dirty = False
        return index
