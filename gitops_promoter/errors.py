"""One exception tree for the whole promoter.

Adapters map the outside world's failures (httpx, git, GitHub) into these once;
workflows decide by type whether to retry (TransientError) or record and move on
(PermanentError). Nothing above the adapters catches a library's exception.
"""

from __future__ import annotations


class PromoterError(Exception):
    """Base of every error the promoter raises on purpose."""


class ConfigError(PromoterError):
    """The O&M configuration is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PolicyError(PromoterError):
    """A tag policy cannot be applied (bad constraint, bad regex, non-numeric tag)."""


class EditError(PromoterError):
    """A YAML edit cannot be made (container not found, key path missing, unparsable file)."""


class TransientError(PromoterError):
    """A fault that may go away: retry with backoff. `retry_after` (seconds), when the far side
    said how long to wait (Retry-After), is honoured by the scheduler instead of its own backoff."""

    retry_after: float | None = None


class PermanentError(PromoterError):
    """A fault that will not go away by retrying: record it and move on."""


class RegistryError(PromoterError):
    """Base for registry failures; always names the registry and repository."""

    def __init__(self, *, registry: str, repository: str = "", status: int | None = None, detail: str) -> None:
        self.registry = registry
        self.repository = repository
        self.status = status
        self.detail = detail
        where = registry + (f"/{repository}" if repository else "")
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"registry {where}{code}: {detail}")


class RegistryUnavailable(RegistryError, TransientError):
    """Timeouts, connection failures, 5xx and 429 after the retry budget is spent."""


class RegistryRejected(RegistryError, PermanentError):
    """4xx answers that retrying will not change: unauthorized, not found, bad request."""


class GitError(PromoterError):
    """Base for git failures; names the repository."""

    def __init__(self, *, repository: str, detail: str) -> None:
        self.repository = repository
        self.detail = detail
        super().__init__(f"git repository {repository}: {detail}")


class GitUnavailable(GitError, TransientError):
    """The remote could not be reached or kept rejecting the push."""


class ReadStale(GitError, TransientError):
    """A write found that a file it changes moved on the branch since the decision read it (a
    person pushed meanwhile): nothing was written; decide again on the new head."""


class GitRejected(GitError, PermanentError):
    """The remote refused in a way retrying will not fix (auth, missing branch, missing file)."""


class CodeHostError(PromoterError):
    """Base for GitHub failures; names the repository and HTTP status."""

    def __init__(self, *, repository: str, status: int | None = None, detail: str) -> None:
        self.repository = repository
        self.status = status
        self.detail = detail
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"github {repository}{code}: {detail}")


class CodeHostUnavailable(CodeHostError, TransientError):
    """5xx, rate limits and connection failures after the retry budget is spent."""


class CodeHostRejected(CodeHostError, PermanentError):
    """4xx answers retrying will not change."""


class MergeConflict(CodeHostRejected):
    """GitHub says the pull request is not mergeable (405): the branch must be rebuilt."""


class MergeRefused(CodeHostRejected):
    """GitHub refuses the merge for a reason other than a conflict (405: branch protection wants
    reviews or checks, the pull request is closed, …): report it and wait; never rebuild."""


class MergeMethodNotAllowed(CodeHostRejected):
    """The repository does not allow the configured merge method (405): a configuration error
    that names the method and the ones the repository allows."""


class HeadMoved(CodeHostRejected):
    """The PR head changed since it was evaluated (409): evaluate again."""
