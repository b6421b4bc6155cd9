"""A local GitHub REST server, backed by real bare git repositories, for the real PyGithub client.

It implements the endpoints the promoter uses with GitHub's semantics:
pulls (create / list / get / update / merge with 405, 409 and 422 answers as GitHub gives
them), reviews (submit, list, dismiss), combined statuses and check runs, issue comments and
labels, team members, the authenticated user, GitHub App installation tokens, `Link`
pagination and rate-limit headers. A merge really merges in the bare repository (merge,
squash or rebase).

As strict as GitHub where the promoter depends on it (the sources each rule follows are named
where it is implemented):

* branch protection (`protect`): required approving review count and required status checks
  (contexts) refuse the merge with GitHub's own 405 messages; the repository's allowed merge
  methods (`allow_merge_commit` / `allow_squash_merge` / `allow_rebase_merge`) too;
* `mergeable` / `mergeable_state` on GET pulls: `clean`, `blocked`, `dirty`, `unstable`, `unknown`;
* the author of a pull request cannot approve it (422);
* a dismissal turns the original review into `DISMISSED` (no new review is added);
* secondary rate limits are 403s, with or without `Retry-After`.

Tests drive the human side through plain methods: `review`, `dismiss`, `protect`,
`set_status`, `set_check_run`, `close`, `fail_next`, `fail_after`, `rate_limit_next`.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.net import LocalServer

GIT_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**GIT_ENV, **(env or {})})
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr}")
    return result.stdout.strip()


def _head_owner(r: Repo, pull: Pull) -> str:
    return pull.fork.split("/")[0] if pull.fork else r.owner


def _positive(text: str, default: int) -> int:
    """A page or per_page parameter: a positive whole number, else GitHub's default for it."""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else default


class Refused(Exception):
    """What GitHub answers a person's action it refuses (the human-side helpers raise it)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        super().__init__(f"{status} {body}")


# The 405 messages of PUT /repos/{o}/{r}/pulls/{n}/merge, as GitHub words them:
# * "Merge commits are not allowed on this repository." — Mergifyio/mergify#48 (a PyGithub
#   GithubException 405 with exactly this message); squash and rebase have their own sentence,
#   handled alike by Mergifyio/mergify#1812 ("handle forbidden squash/rebase/merge commits").
# * 'Required status check "Codacy/PR Quality Review" is expected.' with documentation_url
#   about-protected-branches — PennyDreadfulMTG/Penny-Dreadful-Tools#6226.
# * "At least 2 approving reviews are required by reviewers with write access." —
#   Skatteetaten/terraform-nomad-minio#53 quotes GitHub's wording.
# * "Pull Request is not mergeable" for a conflict or a closed pull request (what the GitHub REST
#   docs' "Merge a pull request" calls "405 Method Not Allowed if merge cannot be performed").
# A 409 "Head branch was modified. Review and try the merge again." when `sha` is stale —
# dlang/dlang-bot#77 quotes the docs' example response.
NOT_ALLOWED = {"merge": "Merge commits are not allowed on this repository.",
               "squash": "Squash merges are not allowed on this repository.",
               "rebase": "Rebase merges are not allowed on this repository."}
PROTECTED_DOCS = "https://docs.github.com/articles/about-protected-branches"
MERGE_DOCS = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"


@dataclass
class Protection:
    """Branch protection of one branch, as GET /repos/{o}/{r}/branches/{b}/protection shapes it:
    `required_pull_request_reviews.required_approving_review_count` and `dismiss_stale_reviews`,
    `required_status_checks.contexts` (a commit status context or a check run name)."""

    required_approving_review_count: int = 0
    dismiss_stale_reviews: bool = False  # GitHub's default: an approval survives new commits
    contexts: list[str] = field(default_factory=list)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Pull:
    number: int
    head: str
    base: str
    title: str
    body: str
    author: str
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_by: str | None = None
    labels: list[str] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)  # (user, body)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    fork: str | None = None  # "owner/name" of the fork `head` lives in; None: the repository itself


@dataclass
class Repo:
    owner: str
    name: str
    path: Path  # bare repository
    default_branch: str = "main"
    pulls: dict[int, Pull] = field(default_factory=dict)
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> context -> state
    # sha -> name -> (status, conclusion)
    check_runs: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)
    protection: dict[str, Protection] = field(default_factory=dict)  # branch -> its protection
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    readers: set[str] = field(default_factory=set)  # users without write access; everyone else has it

    def allowed(self, method: str) -> bool:
        return {"merge": self.allow_merge_commit, "squash": self.allow_squash_merge,
                "rebase": self.allow_rebase_merge}.get(method, False)

    def head_sha(self, branch: str) -> str | None:
        out = _git(self.path, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", check=False)
        return out or None


class FakeGitHub(LocalServer):
    """Serve `/api/v3/...` on 127.0.0.1. `tokens` maps a token to the login it authenticates."""

    def __init__(self, *, tokens: dict[str, str] | None = None, app_key: Any = None, app_id: int = 0,
                 app_login: str = "promoter-app[bot]") -> None:
        self.tokens = dict(tokens or {})
        self.repos: dict[str, Repo] = {}
        self.teams: dict[str, list[str]] = {}  # "org/slug" -> members
        self.app_key, self.app_id, self.app_login = app_key, app_id, app_login
        self.log: list[str] = []  # every request as "METHOD /path"
        self.requests: list[str] = []  # the same with the query: "GET /repos/o/r/pulls?state=open&…"
        self._failures: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self._lost: list[tuple[str, re.Pattern[str], int, int]] = []
        self._refuse: list[tuple[str, re.Pattern[str], int, int]] = []
        self.mergeable_pending = 0  # answer mergeable: null (still computing) this many times
        self._lock = threading.RLock()
        self._next_number = 1
        self._serve()
        self.root = self.url
        self.api = f"{self.root}/api/v3"

    # --- the human side ------------------------------------------------------------------
    def add_repo(self, full_name: str, path: Path, *, default_branch: str = "main") -> Repo:
        owner, name = full_name.split("/")
        repo = Repo(owner, name, path, default_branch)
        self.repos[full_name] = repo
        return repo

    def repo(self, full_name: str = "") -> Repo:
        return self.repos[full_name] if full_name else next(iter(self.repos.values()))

    def review(self, number: int, user: str, state: str, *, commit_id: str | None = None,
               repo: str = "") -> int:
        """A review by `user`: APPROVED, CHANGES_REQUESTED or COMMENTED; on the current head unless
        `commit_id` names another. Returns the review id. GitHub's rules apply: the author's own
        approval or change request is refused with 422 (`Refused`); a dismissal is `dismiss`."""
        with self._lock:
            r = self.repo(repo)
            status, body = self._submit_review(r, r.pulls[number], user, state, commit_id)
            if status >= 400:
                raise Refused(status, body)
            return int(body["id"])

    def dismiss(self, number: int, review_id: int, *, message: str = "stale", repo: str = "") -> None:
        """Dismiss a review, as PUT /pulls/{n}/reviews/{id}/dismissals does."""
        with self._lock:
            status, body = self._dismiss(self.repo(repo).pulls[number], review_id, message)
            if status >= 400:
                raise Refused(status, body)

    def protect(self, branch: str = "main", *, required_reviews: int = 0, contexts: tuple[str, ...] = (),
                dismiss_stale_reviews: bool = False, repo: str = "") -> Protection:
        """Protect `branch`: `required_reviews` approving reviews, `contexts` required status checks."""
        protection = Protection(required_reviews, dismiss_stale_reviews, list(contexts))
        self.repo(repo).protection[branch] = protection
        return protection

    def allow_merge_methods(self, *methods: str, repo: str = "") -> None:
        """The repository's merge button settings: only these methods are allowed."""
        r = self.repo(repo)
        r.allow_merge_commit, r.allow_squash_merge, r.allow_rebase_merge = (
            "merge" in methods, "squash" in methods, "rebase" in methods)

    # --- GitHub's rules, shared by the HTTP side and the human side ----------------------
    def _submit_review(self, r: Repo, pull: Pull, user: str, state: str,
                       commit_id: str | None) -> tuple[int, dict[str, Any]]:
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            state, state)
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED"):
            return 422, {"message": "Unprocessable Entity", "errors": [f"Unknown review event {state}"]}
        if user == pull.author and state != "COMMENTED":
            # hubtty/hubtty#33: 422 {"message":"Unprocessable Entity","errors":["Can not approve your own
            # pull request"], "documentation_url": ".../pulls#create-a-review-for-a-pull-request"}.
            verb = "approve" if state == "APPROVED" else "request changes on"
            return 422, {"message": "Unprocessable Entity", "errors": [f"Can not {verb} your own pull request"],
                         "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"}
        review = {"id": pull.number * 1000 + len(pull.reviews) + 1, "user": user, "state": state,
                  "commit_id": commit_id or r.head_sha(pull.head), "submitted_at": _now()}
        pull.reviews.append(review)
        return 200, review

    def _dismiss(self, pull: Pull, review_id: int, message: str) -> tuple[int, dict[str, Any]]:
        review = next((rv for rv in pull.reviews if rv["id"] == review_id), None)
        if review is None:
            return 404, {"message": "Not Found"}
        if review["state"] not in ("APPROVED", "CHANGES_REQUESTED"):
            # Only a deciding review can be dismissed ("Dismissing a pull request review": it
            # "changes the status of the review to a review comment").
            return 422, {"message": "Unprocessable Entity",
                         "errors": ["Can not dismiss a commented pull request review"]}
        # GitHub REST "Dismiss a review for a pull request": the same review comes back with
        # state DISMISSED; no new review is added.
        review["state"] = "DISMISSED"
        review["dismissal_message"] = message
        return 200, review

    def _approvals(self, r: Repo, pull: Pull, protection: Protection) -> int:
        """Approving reviews GitHub counts for protection: each reviewer's latest APPROVED /
        CHANGES_REQUESTED / DISMISSED review, never the author's (GitHub refuses those anyway), only
        from users with write access (GitHub's "About required reviews for pull requests": anyone
        may approve, only approvals by people with write or admin permissions count); with
        `dismiss_stale_reviews`, approvals of an older head do not count."""
        latest: dict[str, dict[str, Any]] = {}
        for rv in pull.reviews:
            if rv["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[rv["user"]] = rv
        head = r.head_sha(pull.head)
        return sum(1 for user, rv in latest.items() if rv["state"] == "APPROVED" and user != pull.author
                   and user not in r.readers and (not protection.dismiss_stale_reviews or rv["commit_id"] == head))

    def _checks(self, r: Repo, sha: str) -> dict[str, str]:
        """Every status context and check run of `sha`, reduced to success / pending / failure."""
        out = {c: {"success": "success", "pending": "pending"}.get(s, "failure")
               for c, s in r.statuses.get(sha, {}).items()}
        for name, (status, conclusion) in r.check_runs.get(sha, {}).items():
            out[name] = ("pending" if status != "completed" else
                         "success" if conclusion in ("success", "neutral", "skipped") else "failure")
        return out

    def _protection_refusal(self, r: Repo, pull: Pull) -> str | None:
        """GitHub's 405 message when branch protection refuses the merge, else None."""
        protection = r.protection.get(pull.base)
        if protection is None:
            return None
        needed = protection.required_approving_review_count
        if needed and self._approvals(r, pull, protection) < needed:
            noun = "approving review is" if needed == 1 else "approving reviews are"
            return f"At least {needed} {noun} required by reviewers with write access."
        checks = self._checks(r, r.head_sha(pull.head) or "")
        for context in protection.contexts:
            state = checks.get(context)
            if state != "success":
                # Missing or pending: "is expected." (Penny-Dreadful-Tools#6226); a red one: "is failing."
                return f'Required status check "{context}" is {"failing" if state == "failure" else "expected"}.'
        return None

    def _mergeable_state(self, r: Repo, pull: Pull, mergeable: bool | None) -> str:
        """`dirty` is a conflict and always comes with `mergeable: false`
        (prince-chrismc/label-merge-conflicts-action#44); `blocked` is branch protection;
        `unstable` a red or pending check that protection does not require; `unknown` while
        GitHub computes mergeability (`mergeable: null`)."""
        if mergeable is None:
            return "unknown"
        if mergeable is False:
            return "dirty"
        if self._protection_refusal(r, pull) is not None:
            return "blocked"
        if any(s != "success" for s in self._checks(r, r.head_sha(pull.head) or "").values()):
            return "unstable"
        return "clean"

    def set_status(self, sha: str, context: str, state: str, *, repo: str = "") -> None:
        self.repo(repo).statuses.setdefault(sha, {})[context] = state

    def set_check_run(self, sha: str, name: str, status: str, conclusion: str | None, *, repo: str = "") -> None:
        self.repo(repo).check_runs.setdefault(sha, {})[name] = (status, conclusion)

    def add_pull(self, head: str, *, title: str, body: str, author: str, base: str = "main", repo: str = "") -> Pull:
        """A pull request opened from `head` (an existing branch) into `base`, as "Create a pull
        request" makes it, without an HTTP request (for worlds with many of them)."""
        with self._lock:
            r = self.repo(repo)
            pull = Pull(self._next_number, head, base, title, body, author)
            self._next_number += 1
            r.pulls[pull.number] = pull
            return pull

    def close(self, number: int, *, by: str, repo: str = "") -> None:
        with self._lock:
            pull = self.repo(repo).pulls[number]
            pull.state, pull.closed_by = "closed", by

    def fail_next(self, count: int, *, status: int = 502) -> None:
        for _ in range(count):
            self._failures.append((status, {}, {"message": "Server Error"}))

    def fail_after(self, method: str, path: str, *, status: int = 502, count: int = 1) -> None:
        """Do the next `count` requests matching `method` and the `path` regex, then answer `status`:
        the work lands but the answer is lost, as with a gateway timeout."""
        self._lost.append((method, re.compile(path), status, count))

    def fail_before(self, method: str, path: str, *, status: int = 502, count: int = 1) -> None:
        """Answer the next `count` requests matching `method` and the `path` regex with `status`
        without doing them, as a gateway that never reached GitHub."""
        self._refuse.append((method, re.compile(path), status, count))

    def rate_limit_next(self, count: int, *, reset_in: int = 0, secondary: bool = False,
                        retry_after: int | None = 0) -> None:
        """Primary: 403 with X-RateLimit-Remaining 0 and the reset time. Secondary: 403 with the
        message GitHub sends (KnpLabs/php-github-api#1126 quotes it) and `Retry-After` when
        `retry_after` is not None — GitHub does not always send it (hub4j/github-api#1805), and
        then the REST docs say to wait at least a minute."""
        for _ in range(count):
            if secondary:
                headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
                self._failures.append((403, headers, {
                    "message": "You have exceeded a secondary rate limit and have been temporarily blocked from "
                               "content creation. Please retry your request again later.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}))
            else:
                reset = str(int(time.time()) + reset_in)
                self._failures.append((403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                                       {"message": "API rate limit exceeded for user ID 1."}))

    def pulls(self, repo: str = "") -> list[Pull]:
        return list(self.repo(repo).pulls.values())

    # --- JSON shapes ------------------------------------------------------------------------
    def _user(self, login: str) -> dict[str, Any]:
        return {"login": login, "id": abs(hash(login)) % 10**8, "type": "Bot" if login.endswith("[bot]") else "User",
                "url": f"{self.api}/users/{login}"}

    def _repo_json(self, r: Repo) -> dict[str, Any]:
        full = f"{r.owner}/{r.name}"
        return {"id": abs(hash(full)) % 10**8, "name": r.name, "full_name": full, "owner": self._user(r.owner),
                "default_branch": r.default_branch, "private": True, "url": f"{self.api}/repos/{full}",
                "html_url": f"{self.root}/{full}", "allow_merge_commit": r.allow_merge_commit,
                "allow_squash_merge": r.allow_squash_merge, "allow_rebase_merge": r.allow_rebase_merge}

    def _fork_json(self, full: str) -> dict[str, Any]:
        owner, name = full.split("/")
        return {"id": abs(hash(full)) % 10**8, "name": name, "full_name": full, "owner": self._user(owner),
                "fork": True, "url": f"{self.api}/repos/{full}", "html_url": f"{self.root}/{full}"}

    def _mergeable(self, r: Repo, pull: Pull) -> bool | None:
        if pull.state != "open":
            return None
        if self.mergeable_pending > 0:
            self.mergeable_pending -= 1
            return None
        base, head = r.head_sha(pull.base), r.head_sha(pull.head)
        if not base or not head:
            return False
        result = subprocess.run(["git", "merge-tree", "--write-tree", base, head], cwd=r.path, capture_output=True,
                                env=GIT_ENV)
        return result.returncode == 0

    def _pull_json(self, r: Repo, pull: Pull, *, full: bool = True) -> dict[str, Any]:
        base_url = f"{self.api}/repos/{r.owner}/{r.name}"
        head_sha = r.head_sha(pull.head) or ""
        out: dict[str, Any] = {
            "id": pull.number * 1000, "number": pull.number, "state": pull.state, "title": pull.title,
            "body": pull.body, "user": self._user(pull.author), "created_at": pull.created_at,
            "labels": [{"name": n, "url": f"{base_url}/labels/{n}"} for n in pull.labels],
            "head": {"ref": pull.head, "sha": head_sha, "label": f"{_head_owner(r, pull)}:{pull.head}",
                     "repo": self._fork_json(pull.fork) if pull.fork else self._repo_json(r)},
            "base": {"ref": pull.base, "sha": r.head_sha(pull.base) or "", "label": f"{r.owner}:{pull.base}",
                     "repo": self._repo_json(r)},
            "url": f"{base_url}/pulls/{pull.number}", "issue_url": f"{base_url}/issues/{pull.number}",
            "html_url": f"{self.root}/{r.owner}/{r.name}/pull/{pull.number}",
            "merged_at": _now() if pull.merged else None, "merge_commit_sha": pull.merge_commit_sha,
        }
        if full:
            mergeable = self._mergeable(r, pull)
            out.update({"merged": pull.merged, "mergeable": mergeable,
                        "mergeable_state": self._mergeable_state(r, pull, mergeable),
                        "merged_by": self._user(pull.merged_by) if pull.merged_by else None})
        return out

    def _issue_json(self, r: Repo, pull: Pull) -> dict[str, Any]:
        base_url = f"{self.api}/repos/{r.owner}/{r.name}"
        return {"id": pull.number * 1000 + 1, "number": pull.number, "state": pull.state, "title": pull.title,
                "body": pull.body, "user": self._user(pull.author),
                "closed_by": self._user(pull.closed_by) if pull.closed_by else None,
                "labels": [{"name": n} for n in pull.labels], "url": f"{base_url}/issues/{pull.number}",
                "pull_request": {"url": f"{base_url}/pulls/{pull.number}"}}

    # --- merging for real ------------------------------------------------------------------
    def _merge(self, r: Repo, pull: Pull, *, method: str, title: str, message: str, by: str) -> str:
        base, head = r.head_sha(pull.base), r.head_sha(pull.head)
        assert base and head
        text = title + ("\n\n" + message if message else "")
        env = {"GIT_AUTHOR_NAME": by, "GIT_AUTHOR_EMAIL": f"{by}@users.noreply.github.com",
               "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
        if method == "rebase":
            with tempfile.TemporaryDirectory() as tmp:
                _git(Path(tmp), "clone", "-q", str(r.path), "w")
                work = Path(tmp) / "w"
                _git(work, "checkout", "-q", "-B", "pr", head)
                _git(work, "rebase", "-q", base, env=env)
                new = _git(work, "rev-parse", "HEAD")
                _git(work, "push", "-q", "origin", f"{new}:refs/heads/{pull.base}")
            return new
        tree = _git(r.path, "merge-tree", "--write-tree", base, head).splitlines()[0]
        parents = ["-p", base] + (["-p", head] if method == "merge" else [])
        msg_file = r.path / "FAKE_GITHUB_MSG"
        msg_file.write_text(text + "\n")
        new = _git(r.path, "commit-tree", tree, *parents, "-F", str(msg_file), env=env)
        _git(r.path, "update-ref", f"refs/heads/{pull.base}", new, base)
        return new

    # --- HTTP -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gh = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.route()

            def do_POST(self) -> None:  # noqa: N802
                self.route()

            def do_PATCH(self) -> None:  # noqa: N802
                self.route()

            def do_PUT(self) -> None:  # noqa: N802
                self.route()

            def do_DELETE(self) -> None:  # noqa: N802
                self.route()

            # responses
            def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                for i, (method, pattern, lost_status, count) in enumerate(gh._lost):
                    if method == self.command and pattern.search(self.path) and status < 400:
                        gh._lost[i] = (method, pattern, lost_status, count - 1)
                        if count <= 1:
                            gh._lost.pop(i)
                        status, body, headers = lost_status, {"message": "Server Error"}, {}
                        break
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "5000")
                self.send_header("X-RateLimit-Used", "1")
                self.send_header("X-RateLimit-Resource", "core")
                if "X-RateLimit-Remaining" not in (headers or {}):
                    self.send_header("X-RateLimit-Remaining", "4999")
                    self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def fail(self, status: int, message: str, errors: list[dict[str, Any]] | None = None, *,
                     docs: str = "https://docs.github.com/rest") -> None:
                body: dict[str, Any] = {"message": message, "documentation_url": docs}
                if errors:
                    body["errors"] = errors
                self.reply(status, body)

            def page(self, items: list[Any], query: dict[str, list[str]],
                     render: Callable[[Any], Any] | None = None) -> None:
                """One page of `items`, as GitHub's REST API pages a list ("Using pagination in the
                REST API", docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api):
                `per_page` (default 30, at most 100: more is served as 100) and `page` (from 1); a
                `Link` header when there is more than one page, with `prev` and `first` except on
                the first page and `next` and `last` except on the last, each URL the request's own
                with its `page` replaced; no `Link` when everything fits on one page."""
                per_page = min(_positive((query.get("per_page") or [""])[0], 30), 100)
                number = _positive((query.get("page") or [""])[0], 1)
                chunk = [render(i) if render else i for i in items[(number - 1) * per_page: number * per_page]]
                headers = {}
                last = max(1, -(-len(items) // per_page))
                if last > 1:
                    url = urlsplit(self.path)
                    rest = [(k, v) for k, vs in query.items() if k != "page" for v in vs]
                    base = f"{gh.root}{url.path}?" + "".join(f"{urlencode([(k, v)])}&" for k, v in rest)
                    links = []
                    if number > 1:
                        links += [f'<{base}page={min(number - 1, last)}>; rel="prev"']
                    if number < last:
                        links += [f'<{base}page={number + 1}>; rel="next"', f'<{base}page={last}>; rel="last"']
                    if number > 1:
                        links += [f'<{base}page=1>; rel="first"']
                    headers["Link"] = ", ".join(links)
                self.reply(200, chunk, headers)

            def body(self) -> dict[str, Any]:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                return json.loads(raw) if raw else {}

            def login(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                scheme, _, token = auth.partition(" ")
                if scheme.lower() in ("token", "bearer"):
                    return gh.tokens.get(token)
                return None

            def route(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                path = url.path.removeprefix("/api/v3")
                gh.log.append(f"{self.command} {path}")
                gh.requests.append(f"{self.command} {path}" + (f"?{url.query}" if url.query else ""))
                payload = self.body() if self.command in ("POST", "PATCH", "PUT") else {}
                with gh._lock:
                    if gh._failures:
                        status, headers, body = gh._failures.pop(0)
                        return self.reply(status, body, headers)
                    for i, (method, pattern, refused, count) in enumerate(gh._refuse):
                        if method == self.command and pattern.search(path):
                            gh._refuse[i] = (method, pattern, refused, count - 1)
                            if count <= 1:
                                gh._refuse.pop(i)
                            return self.fail(refused, "Server Error")
                    m = re.match(r"^/app/installations/(\d+)/access_tokens$", path)
                    if m and self.command == "POST":
                        return self.installation_token(int(m.group(1)))
                    if path == "/app" and self.command == "GET":
                        if self.app_claims() is None:
                            return self.fail(401, "A JSON web token could not be decoded")
                        slug = gh.app_login.removesuffix("[bot]")
                        return self.reply(200, {"id": gh.app_id, "slug": slug, "name": slug,
                                                "owner": gh._user("acme")})
                    user = self.login()
                    if user is None:
                        return self.fail(401, "Bad credentials")
                    return self.dispatch(path, query, payload, user)

            def app_claims(self) -> dict[str, Any] | None:
                import jwt

                if gh.app_key is None:
                    return None
                auth = self.headers.get("Authorization", "")
                try:
                    claims = jwt.decode(auth.removeprefix("Bearer "), gh.app_key.public_key(), algorithms=["RS256"])
                except Exception:  # noqa: BLE001
                    return None
                return claims if str(claims.get("iss")) == str(gh.app_id) else None

            def installation_token(self, installation: int) -> None:
                if self.app_claims() is None:
                    return self.fail(401, "A JSON web token could not be decoded")
                token = f"ghs_installation_{installation}_{len(gh.tokens)}"
                gh.tokens[token] = gh.app_login
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                self.reply(201, {"token": token, "expires_at": expires, "permissions": {}})

            def dispatch(self, path: str, query: dict[str, list[str]], payload: dict[str, Any], user: str) -> None:
                cmd = self.command
                if path == "/user" and cmd == "GET":
                    return self.reply(200, gh._user(user))
                m = re.match(r"^/orgs/([^/]+)$", path)
                if m and cmd == "GET":
                    return self.reply(200, {"login": m.group(1), "id": abs(hash(m.group(1))) % 10**8,
                                            "url": f"{gh.api}/orgs/{m.group(1)}"})
                m = re.match(r"^/orgs/([^/]+)/teams/([^/]+)$", path)
                if m and cmd == "GET":
                    if f"{m.group(1)}/{m.group(2)}" not in gh.teams:
                        return self.fail(404, "Not Found")
                    return self.reply(200, {"id": abs(hash(path)) % 10**8, "slug": m.group(2), "name": m.group(2),
                                            "url": f"{gh.api}/orgs/{m.group(1)}/teams/{m.group(2)}"})
                m = re.match(r"^/orgs/([^/]+)/teams/([^/]+)/members$", path)
                if m:
                    members = gh.teams.get(f"{m.group(1)}/{m.group(2)}")
                    if members is None:
                        return self.fail(404, "Not Found")
                    return self.page([gh._user(u) for u in members], query)
                m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
                if not m or f"{m.group(1)}/{m.group(2)}" not in gh.repos:
                    return self.fail(404, "Not Found")
                r = gh.repos[f"{m.group(1)}/{m.group(2)}"]
                rest = m.group(3) or ""
                if rest == "" and cmd == "GET":
                    return self.reply(200, gh._repo_json(r))
                if rest == "/pulls" and cmd == "GET":
                    return self.list_pulls(r, query)
                if rest == "/pulls" and cmd == "POST":
                    return self.create_pull(r, payload, user)
                m = re.match(r"^/pulls/(\d+)(/.*)?$", rest)
                if m:
                    pull = r.pulls.get(int(m.group(1)))
                    if pull is None:
                        return self.fail(404, "Not Found")
                    return self.pull_route(r, pull, m.group(2) or "", query, payload, user)
                m = re.match(r"^/issues/(\d+)(/.*)?$", rest)
                if m:
                    pull = r.pulls.get(int(m.group(1)))
                    if pull is None:
                        return self.fail(404, "Not Found")
                    return self.issue_route(r, pull, m.group(2) or "", query, payload, user)
                m = re.match(r"^/commits/([0-9a-f]{40})(/status|/check-runs)?$", rest)
                if m and cmd == "GET":
                    return self.commit_route(r, m.group(1), m.group(2) or "", query)
                return self.fail(404, "Not Found")

            def list_pulls(self, r: Repo, query: dict[str, list[str]]) -> None:
                state = (query.get("state") or ["open"])[0]
                head = (query.get("head") or [""])[0]
                base = (query.get("base") or [""])[0]
                items = []
                for pull in sorted(r.pulls.values(), key=lambda p: -p.number):
                    if state != "all" and pull.state != state:
                        continue
                    if head and f"{_head_owner(r, pull)}:{pull.head}" != head:
                        continue
                    if base and pull.base != base:
                        continue
                    items.append(pull)
                self.page(items, query, render=lambda pull: gh._pull_json(r, pull, full=False))

            def create_pull(self, r: Repo, payload: dict[str, Any], user: str) -> None:
                head, base = str(payload.get("head", "")), str(payload.get("base", ""))
                head_ref = head.split(":", 1)[1] if ":" in head else head
                if not payload.get("title"):
                    return self.fail(422, "Validation Failed", [{"resource": "PullRequest", "field": "title",
                                                                  "code": "missing_field"}])
                if r.head_sha(head_ref) is None or r.head_sha(base) is None:
                    return self.fail(422, "Validation Failed", [{"resource": "PullRequest", "field": "head",
                                                                  "code": "invalid"}])
                for p in r.pulls.values():
                    if p.state == "open" and p.head == head_ref and p.base == base and p.fork is None:
                        return self.fail(422, "Validation Failed", [{
                            "resource": "PullRequest", "code": "custom",
                            "message": f"A pull request already exists for {r.owner}:{head_ref}."}])
                if not _git(r.path, "rev-list", f"{base}..{head_ref}"):
                    return self.fail(422, "Validation Failed", [{
                        "resource": "PullRequest", "code": "custom",
                        "message": f"No commits between {base} and {head_ref}"}])
                pull = Pull(gh._next_number, head_ref, base, str(payload["title"]), str(payload.get("body") or ""),
                            user)
                gh._next_number += 1
                r.pulls[pull.number] = pull
                self.reply(201, gh._pull_json(r, pull))

            def pull_route(self, r: Repo, pull: Pull, rest: str, query: dict[str, list[str]],
                           payload: dict[str, Any], user: str) -> None:
                cmd = self.command
                if rest == "" and cmd == "GET":
                    return self.reply(200, gh._pull_json(r, pull))
                if rest == "" and cmd == "PATCH":
                    if "title" in payload:
                        pull.title = str(payload["title"])
                    if "body" in payload:
                        pull.body = str(payload["body"])
                    if payload.get("state") == "closed" and pull.state == "open":
                        pull.state, pull.closed_by = "closed", user
                    elif payload.get("state") == "open" and pull.state == "closed" and not pull.merged:
                        pull.state, pull.closed_by = "open", None
                    return self.reply(200, gh._pull_json(r, pull))
                if rest == "/reviews" and cmd == "GET":
                    items = [self.review_json(r, pull, rv) for rv in pull.reviews]
                    return self.page(items, query)
                if rest == "/reviews" and cmd == "POST":
                    status, body = gh._submit_review(r, pull, user, str(payload.get("event") or "PENDING"),
                                                     payload.get("commit_id"))
                    return self.reply(status, self.review_json(r, pull, body) if status < 400 else body)
                m = re.match(r"^/reviews/(\d+)$", rest)
                if m and cmd == "GET":
                    review = next((rv for rv in pull.reviews if rv["id"] == int(m.group(1))), None)
                    if review is None:
                        return self.fail(404, "Not Found")
                    return self.reply(200, self.review_json(r, pull, review))
                m = re.match(r"^/reviews/(\d+)/dismissals$", rest)
                if m and cmd == "PUT":
                    status, body = gh._dismiss(pull, int(m.group(1)), str(payload.get("message") or ""))
                    return self.reply(status, self.review_json(r, pull, body) if status < 400 else body)
                if rest == "/merge" and cmd == "PUT":
                    return self.merge(r, pull, payload, user)
                return self.fail(404, "Not Found")

            def review_json(self, r: Repo, pull: Pull, rv: dict[str, Any]) -> dict[str, Any]:
                url = f"{gh.api}/repos/{r.owner}/{r.name}/pulls/{pull.number}"
                return {**rv, "user": gh._user(rv["user"]), "body": "", "pull_request_url": url}

            def merge(self, r: Repo, pull: Pull, payload: dict[str, Any], user: str) -> None:
                """The checks in the order GitHub answers them; every refusal is its real message."""
                if pull.state != "open":
                    return self.fail(405, "Pull Request is not mergeable", docs=MERGE_DOCS)
                if payload.get("sha") and payload["sha"] != r.head_sha(pull.head):
                    return self.fail(409, "Head branch was modified. Review and try the merge again.", docs=MERGE_DOCS)
                method = str(payload.get("merge_method") or "merge")
                if method not in ("merge", "squash", "rebase"):
                    return self.fail(422, "Validation Failed", [{"field": "merge_method", "code": "invalid"}])
                if not r.allowed(method):
                    return self.fail(405, NOT_ALLOWED[method], docs=MERGE_DOCS)
                if not gh._mergeable(r, pull):
                    return self.fail(405, "Pull Request is not mergeable", docs=MERGE_DOCS)
                refusal = gh._protection_refusal(r, pull)
                if refusal is not None:
                    return self.fail(405, refusal, docs=PROTECTED_DOCS)
                title = str(payload.get("commit_title") or f"Merge pull request #{pull.number} from {pull.head}")
                sha = gh._merge(r, pull, method=method, title=title, message=str(payload.get("commit_message") or ""),
                                by=user)
                pull.state, pull.merged, pull.merged_by, pull.merge_commit_sha = "closed", True, user, sha
                self.reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

            def issue_route(self, r: Repo, pull: Pull, rest: str, query: dict[str, list[str]],
                            payload: dict[str, Any], user: str) -> None:
                cmd = self.command
                if rest == "" and cmd == "GET":
                    return self.reply(200, gh._issue_json(r, pull))
                if rest == "/comments" and cmd == "POST":
                    pull.comments.append((user, str(payload.get("body") or "")))
                    n = len(pull.comments)
                    return self.reply(201, {"id": pull.number * 10000 + n, "body": pull.comments[-1][1],
                                            "user": gh._user(user),
                                            "url": f"{gh.api}/repos/{r.owner}/{r.name}/issues/comments/{n}"})
                if rest == "/comments" and cmd == "GET":
                    items = [{"id": pull.number * 10000 + i, "body": b, "user": gh._user(u)}
                             for i, (u, b) in enumerate(pull.comments, 1)]
                    return self.page(items, query)
                if rest == "/labels" and cmd == "POST":
                    names = payload.get("labels") if isinstance(payload, dict) else payload
                    for name in names or []:
                        if name not in pull.labels:
                            pull.labels.append(str(name))
                    return self.reply(200, [{"name": n} for n in pull.labels])
                return self.fail(404, "Not Found")

            def commit_route(self, r: Repo, sha: str, rest: str, query: dict[str, list[str]]) -> None:
                url = f"{gh.api}/repos/{r.owner}/{r.name}/commits/{sha}"
                if rest == "":
                    return self.reply(200, {"sha": sha, "url": url, "commit": {"message": ""}})
                if rest == "/status":
                    statuses = [{"context": c, "state": s} for c, s in r.statuses.get(sha, {}).items()]
                    states = {s["state"] for s in statuses}
                    overall = ("failure" if states & {"failure", "error"} else
                               "pending" if "pending" in states or not statuses else "success")
                    return self.reply(200, {"state": overall, "sha": sha, "statuses": statuses,
                                            "total_count": len(statuses), "url": f"{url}/status"})
                runs = [{"id": i, "name": n, "status": st, "conclusion": co, "head_sha": sha}
                        for i, (n, (st, co)) in enumerate(r.check_runs.get(sha, {}).items(), 1)]
                return self.reply(200, {"total_count": len(runs), "check_runs": runs})

        return Handler
