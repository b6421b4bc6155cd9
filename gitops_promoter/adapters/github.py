"""GitHub through PyGithub: pull requests, reviews, checks, teams, merges.

GitHub.com or Enterprise (`api_url`), a token or a GitHub App installation. Rate limits
(403/429 with reset headers) and 5xx are retried with backoff by PyGithub's GithubRetry;
what is left is mapped once into CodeHostUnavailable / CodeHostRejected.

Two answers need more than a status code:

* A 405 from "Merge a pull request" is a conflict only when GitHub says so on the pull request
  (`mergeable: false`, `mergeable_state: dirty`); branch protection ("At least 1 approving review
  is required…", 'Required status check "x" is expected.') and a disallowed merge method ("Merge
  commits are not allowed on this repository.", Mergifyio/mergify#48 and #1812) are 405s too.
  Mergify learnt the same (Mergifyio/mergify#294: `blocked` is sometimes reported wrongly, so
  try the merge and read GitHub's 405). → MergeConflict / MergeRefused / MergeMethodNotAllowed.
* A comment is a POST: PyGithub's GithubRetry retries POST on 5xx, so an answer lost after
  GitHub stored the comment would post it twice. Comments go through a client that retries
  only rate limits (the request was refused, nothing stored), and a lost answer is settled by
  reading the comments back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import github
from github import Auth, Github, GithubException, GithubRetry
from github.IssueComment import IssueComment
from github.PaginatedList import PaginatedList
from github.PullRequestReview import PullRequestReview
from urllib3.util.retry import Retry

from gitops_promoter.adapters.retry import WAIT_CAP, parse_retry_after
from gitops_promoter.config.schema import GitHubConfig
from gitops_promoter.domain.approval import Review
from gitops_promoter.errors import (
    CodeHostRejected,
    CodeHostUnavailable,
    ConfigError,
    HeadMoved,
    MergeConflict,
    MergeMethodNotAllowed,
    MergeRefused,
)
from gitops_promoter.ports import PullRequest

log = logging.getLogger(__name__)
T = TypeVar("T")


def _auth(config: GitHubConfig) -> Auth.Auth:
    if config.app_id is not None:
        if config.private_key is None or config.installation_id is None:
            raise ConfigError([f"github {config.repo}: app auth needs private_key and installation_id"])
        app = Auth.AppAuth(config.app_id, config.private_key.resolve())
        return app.get_installation_auth(config.installation_id)
    if config.token is None:
        raise ConfigError([f"github {config.repo}: needs token, or app_id + installation_id + private_key"])
    return Auth.Token(config.token.resolve())


SECONDARY_WAIT = 60.0
#: How long a listing of the open pull requests is reused unless the host is told otherwise (the
#: promoter's own writes keep it current meanwhile): one listing per repository for every app of a pass.
PULLS_TTL = 10.0
METHOD_SETTINGS = {"merge": "allow_merge_commit", "squash": "allow_squash_merge", "rebase": "allow_rebase_merge"}


def _rate_limit_wait(headers: dict[str, Any], message: str = "") -> float | None:
    """Seconds GitHub asks us to wait: Retry-After, else until x-ratelimit-reset when none remain,
    else a minute for a secondary rate limit. GitHub's REST docs ("Rate limits for the REST API",
    exceeding the rate limit): "Otherwise, wait for at least one minute before retrying"."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    wait = parse_retry_after(lowered.get("retry-after"))
    if wait is not None:
        return wait
    if lowered.get("x-ratelimit-remaining") == "0" and lowered.get("x-ratelimit-reset", "").isdigit():
        return max(0.0, float(lowered["x-ratelimit-reset"]) - time.time())
    if "secondary rate limit" in message.lower():
        return SECONDARY_WAIT
    return None


def _message(data: Any) -> str:
    """GitHub's message and its `errors`, which are objects (`{"message": …}` / `{"code": …}`) or
    plain strings (422 `"errors": ["Can not approve your own pull request"]`, hubtty/hubtty#33)."""
    if not isinstance(data, dict):
        return str(data)
    message = str(data.get("message") or "")
    errors = data.get("errors")
    if errors:
        parts = [str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e) for e in errors]
        message = f"{message}: " + "; ".join(parts)
    return message


class GitHubHost:
    """The CodeHost port for one repository."""

    def __init__(self, config: GitHubConfig, *, retries: int = 5, backoff: float = 0.5,
                 max_rate_limit_wait: float = WAIT_CAP, timeout: int = 15,
                 seconds_between_requests: float | None = None, seconds_between_writes: float | None = None,
                 pulls_ttl: float = PULLS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        """Pacing comes from the config (GitHub's advice for integrations by default)."""
        self.config = config
        self.repo_name = config.repo
        requests = config.seconds_between_requests if seconds_between_requests is None else seconds_between_requests
        writes = config.seconds_between_writes if seconds_between_writes is None else seconds_between_writes

        def client(retry: GithubRetry) -> Github:
            return Github(base_url=config.api_url.rstrip("/"), auth=_auth(config), retry=retry, timeout=timeout,
                          per_page=100, seconds_between_requests=requests, seconds_between_writes=writes)

        self._gh = client(GithubRetry(total=retries, backoff_factor=backoff, max_rate_limit_wait=max_rate_limit_wait,
                                      status_forcelist=[429, *range(500, 600)]))
        # Comments: rate limits retried (nothing was stored), 5xx and lost answers never (see above).
        self._gh_once = client(GithubRetry(total=retries, backoff_factor=backoff,
                                           max_rate_limit_wait=max_rate_limit_wait, status_forcelist=[429], read=0,
                                           allowed_methods=Retry.DEFAULT_ALLOWED_METHODS.union({"GET", "POST"})))
        self._repo: Any = None
        self._login: str | None = None
        self.pulls_ttl, self._clock = pulls_ttl, clock
        self._listing = threading.Lock()  # one listing at a time: concurrent readers wait for it
        self._kept = threading.Lock()  # guards the three below
        self._open: dict[str, tuple[float, dict[int, PullRequest]]] = {}  # base → (when, number → PR)
        self._closed: dict[str, list[PullRequest]] = {}  # head branch → its closed PRs, while it has no open one
        self._settled: dict[int, PullRequest] = {}  # closed PRs read in full (`pull`), while not seen open

    # --- error mapping ------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except GithubException as exc:
            status = exc.status
            message = _message(exc.data)
            detail = f"{what}: {message}"
            if status is None or status >= 500 or status == 429 or isinstance(exc, github.RateLimitExceededException):
                error = CodeHostUnavailable(repository=self.repo_name, status=status, detail=detail)
                # longer waits go back to the scheduler
                error.retry_after = _rate_limit_wait(exc.headers or {}, message)
                raise error from None
            raise CodeHostRejected(repository=self.repo_name, status=status, detail=detail) from None
        except (OSError, github.BadAttributeException) as exc:
            raise CodeHostUnavailable(repository=self.repo_name, detail=f"{what}: {exc}") from None
        except Exception as exc:  # urllib3 MaxRetryError and friends when retries are exhausted
            if type(exc).__module__.startswith(("urllib3", "requests")):
                raise CodeHostUnavailable(repository=self.repo_name, detail=f"{what}: {exc}") from None
            raise

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._call("get repository", lambda: self._gh.get_repo(self.repo_name))
        return self._repo

    # --- the port ----------------------------------------------------------------------------
    def login(self) -> str:
        """The promoter's own login: `<app-slug>[bot]` for an App (read with the App's JWT, since an
        installation token cannot read /app), the token's user otherwise."""
        if self._login is None:
            if self.config.app_id is not None:
                assert self.config.private_key is not None
                integration = github.GithubIntegration(
                    base_url=self.config.api_url.rstrip("/"),
                    auth=Auth.AppAuth(self.config.app_id, self.config.private_key.resolve()))
                self._login = self._call("get app", lambda: f"{integration.get_app().slug}[bot]")
            else:
                self._login = self._call("get user", lambda: str(self._gh.get_user().login))
        return self._login

    def open_pulls(self, *, base: str) -> list[PullRequest]:
        """Every open pull request into `base` from a branch of this repository (a fork's never):
        one paginated listing (`GET /repos/{o}/{r}/pulls?state=open&base=…&per_page=100`) for all
        the apps of a pass, reused for `pulls_ttl` seconds. Meanwhile the promoter's own writes
        (create, update, close, merge) are applied to the kept listing, and a PR that `pull` finds
        closed leaves it."""
        with self._listing:
            with self._kept:
                kept = self._open.get(base)
                if kept is not None and self._clock() - kept[0] < self.pulls_ttl:
                    return list(kept[1].values())
            owner = self.repo_name.lower()
            listed = self._call(f"list open pulls into {base}", lambda: [
                _pull(p, full=False) for p in self.repo.get_pulls(state="open", base=base)
                if p.head.repo is not None and str(p.head.repo.full_name).lower() == owner])
            with self._kept:
                self._open[base] = (self._clock(), {p.number: p for p in listed})
                for p in listed:  # open again (or still): what was learnt of it closed no longer holds
                    self._closed.pop(p.head_ref, None)
                    self._settled.pop(p.number, None)
            return listed

    def expire(self) -> None:
        """News from GitHub (a webhook): the next `open_pulls` lists again."""
        with self._kept:
            self._open.clear()

    def pulls(self, *, head_branch: str, state: str) -> list[PullRequest]:
        """The pull requests from `head_branch` in `state`. Closed ones are kept per branch until the
        branch has an open PR again (seen by `open_pulls`, or made by this host): a branch's closed
        PRs change only by one of its open PRs closing."""
        if state == "closed":
            with self._kept:
                kept = self._closed.get(head_branch)
            if kept is not None:
                return list(kept)
        owner = self.repo_name.split("/")[0]
        listed = self._call(f"list pulls of {head_branch}", lambda: [
            _pull(p, full=False) for p in self.repo.get_pulls(state=state, head=f"{owner}:{head_branch}")])
        if state == "closed":
            with self._kept:
                self._closed[head_branch] = listed
        return listed

    def pull(self, number: int) -> PullRequest:
        """One PR, fresh; a closed one is kept (closed PRs do not change until reopened, which
        `open_pulls` sees) and leaves the kept open listing."""
        with self._kept:
            settled = self._settled.get(number)
        if settled is not None:
            return settled

        def get() -> PullRequest:
            p = self.repo.get_pull(number)
            closed_by = None
            if p.state == "closed" and not p.merged:
                issue = p.as_issue()
                closed_by = issue.closed_by.login if issue.closed_by else None
            return _pull(p, full=True, closed_by=closed_by)

        pr = self._call(f"get pull #{number}", get)
        if pr.state != "open":
            with self._kept:
                self._settled[number] = pr
                self._forget_open(number)
                self._closed.pop(pr.head_ref, None)
        return pr

    # A PR's sub-resources and writes are one request each, made with the client's own requester
    # (its pacing and retries): PyGithub's `get_pull(n).get_reviews()` would GET the PR first.
    def _listing_of(self, cls: Any, path: str) -> PaginatedList[Any]:
        return PaginatedList(cls, self._gh.requester, f"{self.repo.url}{path}", None)

    def _patch(self, number: int, fields: dict[str, str]) -> None:
        self._gh.requester.requestJsonAndCheck("PATCH", f"{self.repo.url}/pulls/{number}", input=fields)

    def _forget_open(self, number: int) -> PullRequest | None:
        """Drop PR `number` from the kept open listings (under `_kept`); the dropped PR, if any."""
        for _, pulls in self._open.values():
            if number in pulls:
                return pulls.pop(number)
        return None

    def _kept_write(self, number: int, *, closed: bool = False, title: str | None = None,
                    body: str | None = None) -> None:
        """Apply the promoter's own write of PR `number` to what is kept."""
        with self._kept:
            self._settled.pop(number, None)
            if closed:
                gone = self._forget_open(number)
                if gone is not None:
                    self._closed.pop(gone.head_ref, None)
                return
            for _, pulls in self._open.values():
                if number in pulls:
                    old = pulls[number]
                    pulls[number] = replace(old, title=old.title if title is None else title,
                                            body=old.body if body is None else body)

    def create_pull(self, *, head_branch: str, base: str, title: str, body: str,
                    labels: tuple[str, ...]) -> PullRequest:
        def create() -> PullRequest:
            p = self.repo.create_pull(base=base, head=head_branch, title=title, body=body)
            if labels:
                p.add_to_labels(*labels)
            return _pull(p, full=False)

        pr = self._call(f"create pull for {head_branch}", create)
        with self._kept:
            self._closed.pop(head_branch, None)
            kept = self._open.get(base)
            if kept is not None:
                kept[1][pr.number] = replace(pr, state="open")
        return pr

    def update_pull(self, number: int, *, title: str, body: str) -> None:
        self._call(f"update pull #{number}", lambda: self._patch(number, {"title": title, "body": body}))
        self._kept_write(number, title=title, body=body)

    def comment(self, number: int, text: str, *, attempts: int = 3) -> None:
        """Post `text` once. The workflow's comments carry a unique hidden marker, so a comment with
        exactly this body already there is this one: after a lost answer (5xx, timeout) the
        comments are read back, and the POST is only sent again when it did not land."""
        url = f"{self.repo.url}/issues/{number}/comments"

        def post() -> None:
            self._gh_once.requester.requestJsonAndCheck("POST", url, input={"body": text})

        for attempt in range(1, attempts + 1):
            try:
                self._call(f"comment on #{number}", post)
                return
            except CodeHostUnavailable as exc:
                if exc.status is not None and exc.status < 500:
                    raise  # a rate limit beyond its retries: refused, nothing stored
                if _same_text(text) in {_same_text(body) for body in self.comments(number)}:
                    log.info("comment on #%s landed although its answer was lost (%s)", number, exc)
                    return
                if attempt == attempts:
                    raise

    def comments(self, number: int) -> list[str]:
        return self._call(f"list comments of #{number}", lambda: [
            c.body or "" for c in self._listing_of(IssueComment, f"/issues/{number}/comments")])

    def close_pull(self, number: int) -> None:
        self._call(f"close pull #{number}", lambda: self._patch(number, {"state": "closed"}))
        self._kept_write(number, closed=True)

    def reviews(self, number: int) -> list[Review]:
        return self._call(f"list reviews of #{number}", lambda: [
            Review(r.user.login if r.user else "", r.state, r.commit_id or "")
            for r in self._listing_of(PullRequestReview, f"/pulls/{number}/reviews")])

    def checks(self, sha: str) -> dict[str, str]:
        def read() -> dict[str, str]:
            commit = self.repo.get_commit(sha)
            out: dict[str, str] = {}
            for status in commit.get_combined_status().statuses:
                out[status.context] = {"success": "success", "pending": "pending"}.get(status.state, "failure")
            for run in commit.get_check_runs():
                if run.status != "completed":
                    out[run.name] = "pending"
                else:
                    out[run.name] = "success" if run.conclusion in ("success", "neutral", "skipped") else "failure"
            return out

        return self._call(f"read checks of {sha[:10]}", read)

    def team_members(self, team: str) -> frozenset[str]:
        org, _, slug = team.partition("/")
        return self._call(f"list members of {team}", lambda: frozenset(
            m.login for m in self._gh.get_organization(org).get_team_by_slug(slug).get_members()))

    def merge(self, number: int, *, sha: str, method: str, title: str, message: str) -> str:
        try:
            merged = self._call(f"merge #{number}", lambda: self._gh.requester.requestJsonAndCheck(
                "PUT", f"{self.repo.url}/pulls/{number}/merge",
                input={"commit_title": title, "commit_message": message, "merge_method": method, "sha": sha})[1])
        except CodeHostRejected as exc:
            if exc.status == 405:
                merged = self._refused(number, method=method, detail=exc.detail)
                self._kept_write(number, closed=True)
                return merged
            if exc.status == 409:
                raise HeadMoved(repository=self.repo_name, status=409, detail=exc.detail) from None
            raise
        self._kept_write(number, closed=True)
        return str(merged.get("sha") or "")

    def _refused(self, number: int, *, method: str, detail: str) -> str:
        """Why GitHub answered 405, from the pull request and the repository as GitHub sees them now."""
        reason = detail.removeprefix(f"merge #{number}: ")
        fresh = self._call(f"get pull #{number}", lambda: self.repo.get_pull(number))
        if fresh.merged:  # a retried PUT whose first answer was lost: the merge landed
            return str(fresh.merge_commit_sha or "")
        if "are not allowed on this repository" in reason:
            settings = self._call("get repository", lambda: self._gh.get_repo(self.repo_name))
            allowed = [m for m, attr in METHOD_SETTINGS.items() if getattr(settings, attr, None)]
            if method not in allowed:
                raise MergeMethodNotAllowed(
                    repository=self.repo_name, status=405,
                    detail=f"merge method '{method}' is not allowed on this repository; it allows "
                           f"{', '.join(allowed) or 'none'} (set merge_method; GitHub: {reason})")
        if fresh.mergeable is False or fresh.mergeable_state == "dirty":
            raise MergeConflict(repository=self.repo_name, status=405, detail=detail)
        raise MergeRefused(repository=self.repo_name, status=405, detail=f"GitHub refuses the merge: {reason}")


def _same_text(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _pull(p: Any, *, full: bool, closed_by: str | None = None) -> PullRequest:
    return PullRequest(
        number=p.number, state=p.state, merged=bool(p.merged) if full else p.merged_at is not None,
        head_ref=p.head.ref, head_sha=p.head.sha, base_ref=p.base.ref, title=p.title or "", body=p.body or "",
        author=p.user.login if p.user else "", url=p.html_url or "",
        mergeable=p.mergeable if full else None, closed_by=closed_by)
