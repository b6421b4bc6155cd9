"""What files said at a commit, remembered: (commit, path) → blob id → text.

A commit's content never changes, so nothing here goes stale; an unchanged file has the same blob
id at every head, so a service that reads at each new head keeps its text once. Bounded by
entries and by characters (a few large files cannot hold the memory): past either bound, all is
forgotten and read again from git.
"""

from __future__ import annotations

from gitops_promoter.errors import GitRejected

PATHS = 20_000  # (commit, path) entries
CHARS = 16_000_000  # characters of text kept (≤ 64 MB whatever the script)


class BlobMemory:
    def __init__(self, *, paths: int = PATHS, chars: int = CHARS) -> None:
        self._paths: dict[tuple[str, str], str | GitRejected] = {}  # → blob id, or why it cannot be read
        self._blobs: dict[str, str] = {}
        self._chars = 0
        self.max_paths, self.max_chars = paths, chars

    def get(self, commit: str, path: str) -> str | GitRejected | None:
        """The text, the refusal remembered for it, or None when unknown."""
        known = self._paths.get((commit, path))
        if isinstance(known, GitRejected):
            return GitRejected(repository=known.repository, detail=known.detail)
        return None if known is None else self._blobs.get(known)

    def knows(self, commit: str, path: str) -> bool:
        return self.get(commit, path) is not None

    def text(self, commit: str, path: str, blob: str, text: str) -> None:
        if len(text) > self.max_chars // 4:
            return  # a file this large is read again when asked for
        if blob not in self._blobs:
            if self._chars + len(text) > self.max_chars:
                self.forget()
            self._blobs[blob] = text
            self._chars += len(text)
        self._path(commit, path, blob)

    def refused(self, commit: str, path: str, why: GitRejected) -> None:
        self._path(commit, path, why)

    def forget(self) -> None:
        self._paths.clear()
        self._blobs.clear()
        self._chars = 0

    def _path(self, commit: str, path: str, value: str | GitRejected) -> None:
        if len(self._paths) >= self.max_paths:
            self.forget()
        self._paths[(commit, path)] = value
