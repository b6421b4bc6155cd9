"""Load and validate the O&M file. Every problem is reported at once, with file:line:col.

The file is hostile input until proven otherwise: `reader` bounds its size, encoding, depth and
aliases before anything is built; this module bounds every value (number ranges, durations,
lengths) and holds URLs, branch names, paths, names, emails and regexes to the rules at the end
of this file, so a config that loads cannot leak a credential, escape the repository, or stall a
pass.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import re2  # type: ignore[import-untyped]  # google-re2: linear-time matching, the syntax of Go's regexp

from gitops_promoter.config.reader import MAX_FILE_BYTES, Cursor, Problems, decode, kind_of, load_yaml, shown
from gitops_promoter.config.schema import (
    AnalysisConfig,
    AppConfig,
    CanaryConfig,
    ClusterConfig,
    Config,
    EnvironmentConfig,
    GitHubConfig,
    LeaderElectionConfig,
    PrometheusConfig,
    RegistryConfig,
    RepositoryConfig,
    SecretRef,
    ServerConfig,
    StateConfig,
    TargetConfig,
)
from gitops_promoter.domain.durations import parse_duration
from gitops_promoter.domain.edits import ContainerEdit, Edit, HelmEdit, KustomizeEdit, MarkerEdit
from gitops_promoter.domain.imageref import ImageRef
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.soak import MAX_SOAK
from gitops_promoter.domain.titles import MAX_TEMPLATE, template_problem
from gitops_promoter.errors import ConfigError, PolicyError, PromoterError

_Re2Error = re2.error

TOP = ("version", "registries", "repositories", "clusters", "prometheus", "environments", "apps", "server",
       "state")
POLICY_KEYS = ("strategy", "constraint", "semver_mode", "allow_tags", "ignore_tags", "extract", "order",
               "ignore_signature_tags", "platform")
METRIC_KEYS = ("name", "query", "interval", "count", "initialDelay", "successCondition", "failureCondition",
               "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit", "emptyResult",
               "dryRun")
_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?")
MAX_NAME = 63  # app, environment, repository, cluster and prometheus names: a DNS label, a ref component

# Ranges: every number has a floor and a ceiling, every duration is finite and bounded (README).
MAX_RATE_LIMIT = 1000.0  # requests per second to one registry
MAX_REQUEST_TIMEOUT = 300.0  # seconds, one registry request
MAX_RETRIES = 10  # registry retries on 5xx, 429 and connection failures
MAX_REGISTRY_CONCURRENCY = 64  # requests in flight to one registry
MAX_PACING = 60.0  # seconds between GitHub requests / writes
MAX_APPROVALS = 100
MAX_WORKERS = 64
MAX_SERVICE_WAIT = 3600.0  # seconds: lock_timeout, recheck_interval, leader-election durations
MAX_GITHUB_ID = 2**63 - 1
MAX_GATE_STEP = 9999  # canary.gates keys: step indexes
MAX_METRIC_COUNT = 10_000  # count and each limit of a metric
MAX_CONDITION = 2048  # characters of successCondition / failureCondition
MAX_URL = 2048
MAX_PATH = 4096  # a path in the repository; each component at most 255 characters
MAX_REGEX = 512  # allow_tags; a tag is at most 128 characters
MAX_CONSTRAINT = 256
MAX_GLOB = 256


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a config file; ConfigError lists every problem. At most MAX_FILE_BYTES are
    read: a 50 MB file (or /dev/zero) is refused without being read whole."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
    return parse_config(decode(data, source=str(path)), source=str(path))


def parse_config(text: str, *, source: str) -> Config:
    data = load_yaml(text, source=source)
    problems = Problems(source)
    root = Cursor(data, "", 1, 1, problems)
    config = _Builder(root).build()
    if problems.items or config is None:
        raise ConfigError(problems.items or [f"{source}: empty configuration"])
    return config


def _secret(c: Cursor) -> SecretRef | None:
    text = c.str()
    if text is None:
        return None
    scheme, sep, target = text.partition(":")
    if not sep or scheme not in ("env", "file") or not target:
        c.error("secrets are references: write env:NAME or file:PATH, never the value itself")
        return None
    if scheme == "env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", target):
        c.error(f"env:{target} does not name an environment variable (letters, digits and '_')")
        return None
    return SecretRef(scheme, target, c.where)  # type: ignore[arg-type]


def _seconds(c: Cursor | None, default: float, *, allow_zero: bool = False,
             maximum: float = MAX_SERVICE_WAIT) -> float:
    if c is None:
        return default
    value = c.duration(allow_zero=allow_zero, maximum=maximum)
    return default if value is None else value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Builder:
    def __init__(self, root: Cursor) -> None:
        self.root = root
        self.cluster_names: set[str] = set()

    def build(self) -> Config | None:
        top = self.root.mapping(TOP, required=("version", "repositories", "environments", "apps"))
        if not top:
            return None
        if "version" in top:
            version = top["version"].value
            if isinstance(version, bool) or not isinstance(version, int):  # true == 1 in Python
                top["version"].error(f"must be the whole number 1, not {kind_of(version)}")
            elif version != 1:
                top["version"].error(f"unsupported version {version!r}; this promoter reads version 1")
        registries = tuple(self.registry(c) for c in top["registries"].sequence()) if "registries" in top else ()
        repositories = self.named(top.get("repositories"), self.repository)
        clusters = self.named(top.get("clusters"), self.cluster)
        prometheus = self.named(top.get("prometheus"), self.prometheus)
        environments = tuple(self.named(top.get("environments"), self.environment).values())
        raw_envs = top["environments"].value if "environments" in top else None
        if isinstance(raw_envs, list) and not raw_envs:
            top["environments"].error("needs at least one environment")
        # Names as written, valid or not, so one bad environment does not cascade into every target.
        env_names = [str(e["name"]) for e in raw_envs or [] if isinstance(e, dict) and "name" in e] \
            if isinstance(raw_envs, list) else [e.name for e in environments]
        modes = {e.name: e.mode for e in environments}
        apps = tuple(self.named(top.get("apps"), lambda c: self.app(c, env_names, repositories, clusters,
                                                                    prometheus, modes)).values())
        self.cluster_names = set(clusters)
        server = self.server(top["server"]) if "server" in top else ServerConfig()
        state = self.state(top["state"]) if "state" in top else StateConfig()
        return Config(path=self.root.problems.file, registries=tuple(r for r in registries if r),
                      repositories=repositories, environments=environments, apps=apps, clusters=clusters,
                      prometheus=prometheus, server=server, state=state)

    def named(self, c: Cursor | None, build: Any) -> dict[str, Any]:
        """A list of entries with unique `name`s, built by `build`."""
        out: dict[str, Any] = {}
        if c is None:
            return out
        for item in c.sequence():
            obj = build(item)
            if obj is None:
                continue
            if obj.name in out:
                item.error(f"duplicate name {obj.name!r}")
                continue
            out[obj.name] = obj
        return out

    @staticmethod
    def name(c: Cursor | None, owner: Cursor) -> str | None:
        """A name that is also a DNS label and a git ref component: it appears in branch names
        (promoter/<env>/<app>), commit trailers, metrics labels and file paths."""
        if c is None:
            return None
        text = c.str(max_len=MAX_NAME)
        if text is None:
            return None
        if not _NAME.fullmatch(text) or ".." in text or text.endswith(".lock"):
            c.error(f"{text!r} is not a valid name (lowercase letters, digits, '.', '_' and '-'; starting and ending "
                    "with a letter or digit; no '..' and no '.lock' at the end)")
            return None
        return text

    # --- registries -------------------------------------------------------------
    def registry(self, c: Cursor) -> RegistryConfig | None:
        m = c.mapping(("prefix", "api_url", "auth", "rate_limit", "insecure", "ca_file", "timeout",
                       "max_retries", "max_retry_after", "max_concurrency"), required=("prefix",))
        prefix = m["prefix"].str(max_len=255) if "prefix" in m else None
        if prefix is None:
            return None
        api_url = f"https://{prefix.split('/')[0]}"
        if "api_url" in m:
            api_url = _http_url(m["api_url"], secrets="auth (username and password, or token)") or api_url
        username = password = token = pull_secret = None
        if "auth" in m:
            a = m["auth"].mapping(("username", "password", "token", "pull_secret"))
            username = _secret(a["username"]) if "username" in a else None
            password = _secret(a["password"]) if "password" in a else None
            token = _secret(a["token"]) if "token" in a else None
            pull_secret = _secret(a["pull_secret"]) if "pull_secret" in a else None
            if ("username" in a) != ("password" in a):
                m["auth"].error("basic auth needs both username and password")
            if "pull_secret" in a and {"username", "password", "token"} & set(a):
                a["pull_secret"].error("give either pull_secret or username/password/token, not both")
        return RegistryConfig(
            prefix=prefix, api_url=api_url.rstrip("/"), username=username, password=password, token=token,
            pull_secret=pull_secret,
            rate_limit=(m["rate_limit"].number(positive=True, maximum=MAX_RATE_LIMIT) or 10.0)
            if "rate_limit" in m else 10.0,
            insecure=bool(m["insecure"].bool()) if "insecure" in m else False,
            ca_file=m["ca_file"].str() if "ca_file" in m else None,
            timeout=_seconds(m.get("timeout"), 10.0, maximum=MAX_REQUEST_TIMEOUT),
            max_retries=(m["max_retries"].int(minimum=0, maximum=MAX_RETRIES) or 0) if "max_retries" in m else 4,
            max_retry_after=_seconds(m.get("max_retry_after"), 60.0, maximum=MAX_REQUEST_TIMEOUT),
            max_concurrency=(m["max_concurrency"].int(minimum=1, maximum=MAX_REGISTRY_CONCURRENCY) or 4)
            if "max_concurrency" in m else 4,
        )

    # --- repositories -----------------------------------------------------------
    def repository(self, c: Cursor) -> RepositoryConfig | None:
        m = c.mapping(("name", "url", "branch", "credentials", "author", "github", "commit", "pull_request"),
                      required=("name", "url"))
        name = self.name(m.get("name"), c)
        url = _repository_url(m["url"]) if "url" in m else None
        if name is None or "url" not in m:
            return None  # a wrong URL is reported; the entry stays so that apps naming it do not cascade
        token = ssh_key = None
        if "credentials" in m:
            cred = m["credentials"].mapping(("token", "ssh_key"))
            token = _secret(cred["token"]) if "token" in cred else None
            ssh_key = _secret(cred["ssh_key"]) if "ssh_key" in cred else None
        author_name, author_email = "gitops-promoter", "gitops-promoter@localhost"
        if "author" in m:
            a = m["author"].mapping(("name", "email"), required=("name", "email"))
            author_name = (_author_name(a["name"]) if "name" in a else None) or author_name
            author_email = (_email(a["email"]) if "email" in a else None) or author_email
        github = self.github(m["github"]) if "github" in m else None
        branch = (_branch(m["branch"]) if "branch" in m else None) or "main"
        titles = {key: _title(m[key]) if key in m else None for key in ("commit", "pull_request")}
        return RepositoryConfig(name=name, url=url or "", branch=branch,
                                token=token, ssh_key=ssh_key, author_name=author_name, author_email=author_email,
                                github=github, commit_title=titles["commit"], pull_request_title=titles["pull_request"])

    def github(self, c: Cursor) -> GitHubConfig | None:
        m = c.mapping(("repo", "api_url", "token", "app_id", "installation_id", "private_key",
                       "seconds_between_requests", "seconds_between_writes"), required=("repo",))
        repo = m["repo"].str(max_len=200) if "repo" in m else None
        if repo is None:
            return None
        if not _GITHUB_REPO.fullmatch(repo) or ".." in repo:
            m["repo"].error(f"must be OWNER/NAME (letters, digits, '-', '_' and '.'), not {repo!r}")
        app_id = m["app_id"].int(minimum=1, maximum=MAX_GITHUB_ID) if "app_id" in m else None
        if app_id is not None and "private_key" not in m:
            c.error("GitHub App auth needs private_key (and installation_id)")
        api_url = _http_url(m["api_url"], secrets="github.token (or app_id + private_key)") if "api_url" in m else None
        return GitHubConfig(
            repo=repo, api_url=api_url or "https://api.github.com",
            token=_secret(m["token"]) if "token" in m else None, app_id=app_id,
            installation_id=m["installation_id"].int(minimum=1, maximum=MAX_GITHUB_ID)
            if "installation_id" in m else None,
            private_key=_secret(m["private_key"]) if "private_key" in m else None,
            seconds_between_requests=_seconds(m.get("seconds_between_requests"), 0.25, allow_zero=True,
                                              maximum=MAX_PACING),
            seconds_between_writes=_seconds(m.get("seconds_between_writes"), 1.0, allow_zero=True,
                                            maximum=MAX_PACING))

    # --- clusters / prometheus / server / state (validated in shape now) --------------
    def cluster(self, c: Cursor) -> ClusterConfig | None:
        m = c.mapping(("name", "kubeconfig", "context", "in_cluster"), required=("name",))
        name = self.name(m.get("name"), c)
        if name is None:
            return None
        in_cluster = bool(m["in_cluster"].bool()) if "in_cluster" in m else False
        if in_cluster == ("kubeconfig" in m):
            c.error("give either kubeconfig or in_cluster: true")
        return ClusterConfig(name=name, kubeconfig=_secret(m["kubeconfig"]) if "kubeconfig" in m else None,
                             context=m["context"].str() if "context" in m else None, in_cluster=in_cluster)

    def prometheus(self, c: Cursor) -> PrometheusConfig | None:
        m = c.mapping(("name", "url", "token", "username", "password"), required=("name", "url"))
        name = self.name(m.get("name"), c)
        url = _http_url(m["url"], secrets="token, or username and password") if "url" in m else None
        if name is None or "url" not in m:
            return None  # a wrong URL is reported; the entry stays so that references to it do not cascade
        return PrometheusConfig(name=name, url=url or "", token=_secret(m["token"]) if "token" in m else None,
                                username=_secret(m["username"]) if "username" in m else None,
                                password=_secret(m["password"]) if "password" in m else None)

    def server(self, c: Cursor) -> ServerConfig:
        m = c.mapping(("listen", "registry_webhook_secret", "github_webhook_secret", "leader_election", "workers",
                       "status_token"))
        listen = (m["listen"].str(max_len=300) if "listen" in m else None) or "127.0.0.1:8080"
        port = re.fullmatch(r"[A-Za-z0-9.:\[\]_-]*:([0-9]{1,5})", listen)
        if "listen" in m and (port is None or int(port.group(1)) > 65535):
            m["listen"].error(f"must be HOST:PORT (a port up to 65535), not {listen!r}")
        return ServerConfig(
            listen=listen,
            registry_webhook_secret=_secret(m["registry_webhook_secret"]) if "registry_webhook_secret" in m else None,
            github_webhook_secret=_secret(m["github_webhook_secret"]) if "github_webhook_secret" in m else None,
            leader_election=self.leader_election(m["leader_election"]) if "leader_election" in m else None,
            status_token=_secret(m["status_token"]) if "status_token" in m else None,
            workers=(m["workers"].int(minimum=1, maximum=MAX_WORKERS) if "workers" in m else None)
            or ServerConfig().workers)

    def leader_election(self, c: Cursor) -> LeaderElectionConfig | None:
        m = c.mapping(("cluster", "namespace", "name", "lease_duration", "renew_deadline", "retry_period",
                       "identity"), required=("cluster", "namespace"))
        d = LeaderElectionConfig(cluster="", namespace="")
        cluster = m["cluster"].str() if "cluster" in m else None
        if cluster is not None and cluster not in self.cluster_names:
            known = ", ".join(sorted(self.cluster_names)) or "none"
            m["cluster"].error(f"unknown cluster {cluster!r}; clusters: {known}")
        namespace = m["namespace"].str() if "namespace" in m else None
        name = (m["name"].str() if "name" in m else None) or d.name
        built = LeaderElectionConfig(
            cluster=cluster or "", namespace=namespace or "", name=name,
            # zero is left to LeaderElectionConfig.problems(), the one place the elector's rules live
            lease_duration=_seconds(m.get("lease_duration"), d.lease_duration, allow_zero=True),
            renew_deadline=_seconds(m.get("renew_deadline"), d.renew_deadline, allow_zero=True),
            retry_period=_seconds(m.get("retry_period"), d.retry_period, allow_zero=True),
            identity=m["identity"].str() if "identity" in m else None)
        for problem in built.problems():
            if not problem.startswith("namespace and name"):  # missing keys are reported by mapping()
                c.error(problem)
        return built if cluster is not None and namespace is not None else None

    def state(self, c: Cursor) -> StateConfig:
        m = c.mapping(("journal", "poll_interval", "workdir", "lock_timeout", "recheck_interval", "app_deadline"))
        d = StateConfig()
        journal = m["journal"].str(max_len=MAX_URL) if "journal" in m else None
        if journal and (re.search(r"://[^/@]*:[^/@]*@", journal) or re.search(r"[?&]password=", journal, re.I)):
            m["journal"].error("a password in the journal URL would sit in the config in plain text; give the URL "
                               "without it and the password in PGPASSWORD or ~/.pgpass")
            journal = None
        return StateConfig(journal=journal or d.journal,
                           poll_interval=_seconds(m.get("poll_interval"), d.poll_interval, maximum=24 * 3600.0),
                           workdir=(m["workdir"].str() if "workdir" in m else None) or d.workdir,
                           lock_timeout=_seconds(m.get("lock_timeout"), d.lock_timeout, allow_zero=True),
                           recheck_interval=_seconds(m.get("recheck_interval"), d.recheck_interval),
                           app_deadline=_seconds(m.get("app_deadline"), d.app_deadline))

    # --- environments -----------------------------------------------------------
    def environment(self, c: Cursor) -> EnvironmentConfig | None:
        m = c.mapping(("name", "mode", "approval", "merge_method", "labels", "soak"), required=("name", "mode"))
        name = self.name(m.get("name"), c)
        mode = m["mode"].choice(("direct", "pull-request")) if "mode" in m else None
        if name is None or mode is None:
            return None
        approval = None
        if "approval" in m:
            if mode == "direct":
                m["approval"].error("only pull-request environments take an approval rule")
            a = m["approval"].mapping(("required", "approvers", "dismiss_stale", "checks"))
            from gitops_promoter.domain.approval import Rule as ApprovalRule  # pull-request code: loaded for it

            approval = ApprovalRule(
                required=(a["required"].int(minimum=0, maximum=MAX_APPROVALS) or 0) if "required" in a else 1,
                approvers=tuple(_approvers(a["approvers"])) if "approvers" in a else (),
                dismiss_stale=a["dismiss_stale"].bool() is not False if "dismiss_stale" in a else True,
                checks=tuple(a["checks"].str_list(max_len=255)) if "checks" in a else ())
        elif mode == "pull-request":
            from gitops_promoter.domain.approval import Rule as ApprovalRule

            approval = ApprovalRule()
        merge = (m["merge_method"].choice(("merge", "squash", "rebase")) if "merge_method" in m else None) \
            or EnvironmentConfig.merge_method
        soak = _seconds(m.get("soak"), 0.0, allow_zero=True, maximum=MAX_SOAK)
        if soak and mode == "direct":
            m["soak"].error("only pull-request environments take a soak time: they take what the environment "
                            "before them runs (a direct one takes new tags from the registry)")
        return EnvironmentConfig(name=name, mode=cast(Literal["direct", "pull-request"], mode), approval=approval,
                                 merge_method=merge,
                                 labels=tuple(m["labels"].str_list(max_len=100)) if "labels" in m else (),
                                 soak=soak)

    # --- apps ---------------------------------------------------------------------
    def app(self, c: Cursor, envs: list[str], repos: dict[str, RepositoryConfig],
            clusters: dict[str, ClusterConfig], prometheus: dict[str, PrometheusConfig],
            modes: dict[str, str]) -> AppConfig | None:
        m = c.mapping(("name", "image", "repository", "policy", "targets", "canary", "flux_policy"),
                      required=("name", "image", "repository", "policy", "targets"))
        name = self.name(m.get("name"), c)
        image = m["image"].str(max_len=512) if "image" in m else None
        if image is not None:
            try:
                ref = ImageRef.parse(image)
                if ref.tag or ref.digest:
                    m["image"].error(f"write the image without tag or digest: {ref.name}")
            except ValueError as exc:
                m["image"].error(str(exc))
        repo = m["repository"].str() if "repository" in m else None
        if repo is not None and repo not in repos and repos:
            m["repository"].error(f"no repository named {repo!r} (repositories: {', '.join(repos)})")
        policy = self.policy(m["policy"]) if "policy" in m else None
        flux_policy = _flux_policy(m["flux_policy"]) if "flux_policy" in m else None
        targets: dict[str, TargetConfig] = {}
        if "targets" in m:
            for env, tc in m["targets"].items():
                if env not in envs:
                    tc.error(f"no environment named {env!r} (environments: {', '.join(envs)})")
                    continue
                target = self.target(env, tc, name or "", clusters, flux_policy)
                if target is not None:
                    targets[env] = target
                if modes.get(env) == "pull-request" and repo in repos and repos[repo].github is None:
                    tc.error(f"{env} promotes by pull request, but repository {repo!r} has no github section")
        canary = self.canary(m["canary"], prometheus) if "canary" in m else None
        if None in (name, image, repo, policy):
            return None
        titles = repos.get(repo) if repo is not None else None
        return AppConfig(name=name, image=image, repository=repo, policy=policy,  # type: ignore[arg-type]
                         targets=targets, canary=canary, commit_title=titles.commit_title if titles else None,
                         pull_request_title=titles.pull_request_title if titles else None)

    def policy(self, c: Cursor) -> Policy | None:
        m = c.mapping(POLICY_KEYS, required=("strategy",))
        if "strategy" not in m:
            return None
        args: dict[str, Any] = {}
        for key, cur in m.items():
            if key == "ignore_tags":
                args[key] = cur.str_list(max_len=MAX_GLOB)
            elif key == "ignore_signature_tags":
                args[key] = cur.bool()
            elif key == "allow_tags":
                args[key] = _regex(cur)
            else:
                args[key] = cur.str(allow_empty=key == "constraint",
                                    max_len=MAX_CONSTRAINT if key == "constraint" else MAX_GLOB)
        if "allow_tags" in args and args["allow_tags"] is None:
            return None  # already reported; the policy would only say "invalid regular expression" again
        try:
            return Policy.build(**args)
        except PolicyError as exc:
            key, _, message = str(exc).partition(": ")
            if key in m:
                m[key].error(message)
            else:
                c.error(str(exc))
            return None

    def target(self, env: str, c: Cursor, app: str, clusters: dict[str, ClusterConfig],
               flux_policy: str | None = None) -> TargetConfig | None:
        m = c.mapping(("file", "edit", "pin_digest", "cluster", "application", "rollout", "rollout_file"),
                      required=("file", "edit"))
        file = _repo_path(m["file"]) if "file" in m else None
        rollout_file = _repo_path(m["rollout_file"]) if "rollout_file" in m else None
        edit = self.edit(m["edit"], app, flux_policy) if "edit" in m else None
        cluster = m["cluster"].str(max_len=MAX_NAME) if "cluster" in m else None
        if cluster is not None and cluster not in clusters:
            m["cluster"].error(f"no cluster named {cluster!r} (clusters: {', '.join(clusters) or 'none'})")
        objects = {key: _namespaced(m[key]) for key in ("application", "rollout") if key in m}
        if file is None or edit is None:
            return None
        return TargetConfig(env=env, file=file, edit=edit,
                            pin_digest=bool(m["pin_digest"].bool()) if "pin_digest" in m else False,
                            cluster=cluster, application=objects.get("application"), rollout=objects.get("rollout"),
                            rollout_file=rollout_file)

    def edit(self, c: Cursor, app: str, flux_policy: str | None = None) -> Edit | None:
        m = c.mapping(("kind", "container", "name", "key", "digest_key", "marker", "flux_policy"), required=("kind",))
        kind = m["kind"].choice(("container", "kustomize", "helm", "marker")) if "kind" in m else None
        needs = {"container": "container", "kustomize": "name", "helm": "key"}
        allowed = {"container": {"kind", "container"}, "kustomize": {"kind", "name"},
                   "helm": {"kind", "key", "digest_key"}, "marker": {"kind", "marker", "flux_policy"}}
        if kind is None:
            return None
        for key, cur in m.items():
            if key not in allowed[kind]:
                cur.error(f"not used by edit kind {kind}")
        if kind in needs and needs[kind] not in m:
            c.error(f"edit kind {kind} needs {needs[kind]!r}")
            return None
        if kind == "container":
            value = m["container"].str()
            return ContainerEdit(value) if value else None
        if kind == "kustomize":
            value = m["name"].str()
            return KustomizeEdit(value) if value else None
        if kind == "helm":
            value = m["key"].str()
            return HelmEdit(value, m["digest_key"].str() if "digest_key" in m else None) if value else None
        own = _flux_policy(m["flux_policy"]) if "flux_policy" in m else None
        return MarkerEdit((m["marker"].str() if "marker" in m else None) or app, flux_policy=own or flux_policy)

    def canary(self, c: Cursor, prometheus: dict[str, PrometheusConfig]) -> CanaryConfig | None:
        m = c.mapping(("gate_duration", "gate_window", "analysis", "gates"))
        gate = "10s"
        if "gate_duration" in m:
            text = m["gate_duration"].str(max_len=32)
            if text is not None and not _gate_duration_ok(text):
                m["gate_duration"].error(f"must be a duration such as 10s (Argo's pause: a whole number with ms, s, "
                                         f"m or h, greater than 0 and at most 24h), not {text!r}")
            gate = text or gate
        window = CanaryConfig().gate_window
        if "gate_window" in m:
            seconds = m["gate_window"].duration()
            if seconds is not None:
                window = seconds
        analysis = self.analysis(m["analysis"], prometheus, window) if "analysis" in m else None
        gates: dict[int, AnalysisConfig] = {}
        if "gates" in m:
            for key, gc in m["gates"].items():
                if not re.fullmatch(r"[0-9]{1,4}", key):  # ASCII: '²'.isdigit() is true, int('²') fails
                    gc.error(f"gate keys are step indexes in spec.strategy.canary.steps (0 to {MAX_GATE_STEP}), "
                             f"not {key!r}")
                    continue
                g = gc.mapping(("analysis",), required=("analysis",))
                built = self.analysis(g["analysis"], prometheus, window) if "analysis" in g else None
                if built is not None:
                    gates[int(key)] = built
        return CanaryConfig(gate_duration=gate, gate_window=window, analysis=analysis, gates=gates)

    def analysis(self, c: Cursor, prometheus: dict[str, PrometheusConfig],
                 window: float = CanaryConfig().gate_window) -> AnalysisConfig | None:
        from gitops_promoter.domain.analysis import Metric, MetricError, metric_problems, parse_metric  # canary code

        a = c.mapping(("prometheus", "args", "metrics", "template"), required=("prometheus",))
        ref = a["prometheus"].str() if "prometheus" in a else None
        if ref is not None and ref not in prometheus:
            known = ", ".join(prometheus) or "none"
            a["prometheus"].error(f"no prometheus named {ref!r} (prometheus: {known})")
        args: dict[str, str] = {}
        if "args" in a:
            for key, v in a["args"].items():
                value = v.str(allow_empty=True)
                if value is not None:
                    args[key] = value
        metrics: list[Metric] = []
        if "metrics" in a:
            for metric in a["metrics"].sequence():
                mm = metric.mapping(METRIC_KEYS, required=("name", "query"))
                if not mm or not _metric_in_bounds(mm):
                    continue
                try:
                    built = parse_metric(_plain(metric.value), gate_window=window)
                except (MetricError, PromoterError) as exc:
                    bad: str | None = exc.key if isinstance(exc, MetricError) else None
                    (mm[bad] if bad is not None and bad in mm else metric).error(str(exc))
                    continue
                # the same rules as an AnalysisTemplate's metrics (domain.analysis.metric_problems);
                # interval without count is Argo's background shape, bounded by canary.gate_window
                problems = metric_problems(built)
                for where, message in problems:
                    (mm[where] if where is not None and where in mm else metric).error(message)
                if not problems:
                    metrics.append(built)
            if metrics and all(m.dry_run for m in metrics):
                a["metrics"].error("every metric is dryRun: nothing would decide the gate")
        template = _repo_path(a["template"], placeholder="{env}") if "template" in a else None
        if ("metrics" in a) == ("template" in a):
            c.error("give either metrics or template")
        if ref is None:
            return None
        return AnalysisConfig(prometheus=ref, args=args, metrics=tuple(metrics), template=template)


# --- rules for values: each is a pure function `…_problem(text) -> reason | None` plus the Cursor wrapper ------
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_REMOTE_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
_CREDENTIALS = "credentials inside the URL would sit in plain text in this file"


def url_problem(url: str, *, secrets: str) -> str | None:
    """An HTTP(S) endpoint (registry, GitHub API, Prometheus): http:// or https://, a host, no
    credentials (user:password@ or a token as user@), no query or fragment, no spaces."""
    if not re.match(r"https?://", url, re.IGNORECASE):
        return f"must start with http:// or https://, not {shown(url)}"
    if any(ch.isspace() for ch in url):
        return f"must not contain spaces: {shown(url)}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number up to 65535
    except ValueError as exc:
        return f"is not a valid URL ({exc}): {shown(url)}"
    if "@" in parts.netloc:
        return (f"{_CREDENTIALS} and in logs; write the URL without them and give them in {secrets} "
                "(env:NAME or file:PATH)")
    if not parts.hostname:
        return f"names no host: {shown(url)}"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"must not have a query (?…) or fragment (#…), where a token would sit in plain text: {shown(url)}"
    return None


def repository_url_problem(url: str) -> str | None:
    """A deployment repository for git: https://, http://, ssh://, git://, file://, user@host:path (scp
    style) or a local path. Never an option (-…) or a remote helper (transport::address: git would run a
    program), never credentials (a password anywhere; any user name in http(s)://, git:// and file://,
    where it is a token), never a query or fragment. An ssh user name (git@…) is a login, not a secret."""
    if url != url.strip():
        return f"must not start or end with spaces: {shown(url)}"
    if url.startswith("-"):
        return f"must not start with '-' (git would read it as an option): {shown(url)}"
    if _REMOTE_HELPER.match(url):
        return f"remote helpers (transport::address) are not allowed, git would run a program: {shown(url)}"
    scheme = _SCHEME.match(url)
    if scheme is None:
        scp = re.match(r"([^/@:]*)(:[^/@]*)?@[^/:]+:", url)
        if scp is not None and scp.group(2) is not None:
            return (f"{_CREDENTIALS} and in the clone's .git/config; write the URL without the password and give "
                    "the key in credentials.ssh_key (env:NAME or file:PATH)")
        return None  # user@host:path, or a local path
    name = scheme.group(1).lower()
    if name not in _GIT_SCHEMES:
        return f"unsupported scheme {name}://; use https://, ssh://, git://, file:// or user@host:path"
    if any(ch.isspace() for ch in url):
        return f"must not contain spaces: {shown(url)}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number up to 65535
    except ValueError as exc:
        return f"is not a valid URL ({exc}): {shown(url)}"
    if parts.password is not None or (parts.username is not None and "ssh" not in name):
        secret = "credentials.ssh_key" if "ssh" in name else "credentials.token"
        return (f"{_CREDENTIALS} and in the clone's .git/config; write the URL without them and give the secret in "
                f"{secret} (env:NAME or file:PATH)")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"must not have a query (?…) or fragment (#…), where a token would sit in plain text: {shown(url)}"
    if name != "file" and not parts.hostname:
        return f"names no host: {shown(url)}"
    return None


def branch_problem(name: str) -> str | None:
    """Why `git check-ref-format --branch NAME` refuses a branch name, or None. The rules of
    git-check-ref-format(1) (https://git-scm.com/docs/git-check-ref-format), for refs/heads/NAME, plus
    git's own refusals of a branch named HEAD or starting with '-' (strbuf_check_branch_ref). Rule 9, "not
    the single character @", is about the whole ref, refs/heads/@, so `git branch @` is allowed and so is it here."""
    if not name:
        return "must not be empty"
    if name.startswith("-"):
        return "must not start with '-'"
    if name == "HEAD":
        return "must not be HEAD"
    bad = next((ch for ch in name if ord(ch) < 0o40 or ord(ch) == 0o177 or ch in " ~^:?*[\\"), None)
    if bad is not None:
        return f"must not contain {bad!r} (no control characters, spaces, ~ ^ : ? * [ or \\)"
    if ".." in name:
        return "must not contain '..'"
    if "@{" in name:
        return "must not contain '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "must not start or end with '/' or contain '//'"
    if name.endswith("."):
        return "must not end with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"no part may start with '.' ({part!r})"
        if part.endswith(".lock"):
            return f"no part may end with '.lock' ({part!r})"
    if len(name.encode("utf-8")) > 255:
        return "must be at most 255 bytes"
    return None


def repo_path_problem(path: str) -> str | None:
    """A file in the deployment repository, relative to its root: not absolute, no '..' part (it would
    leave the repository), nothing inside .git (hooks would run), '/' between folders (no '\\'), no empty
    part, at most MAX_PATH characters and 255 per part."""
    if not path:
        return "must not be empty"
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return "must be relative to the repository root, not absolute"
    if "\\" in path:
        return "must use '/' between folders, not '\\'"
    parts = path.split("/")
    if ".." in parts:
        return "must not leave the repository ('..')"
    if any(part.lower() == ".git" for part in parts):
        return "must not point into .git"
    if "" in parts:
        return "must not have an empty part ('//' or a '/' at the end)"
    if len(path) > MAX_PATH or any(len(part) > 255 for part in parts):
        return f"is too long (at most {MAX_PATH} characters, 255 per part)"
    return None


def regex_problem(pattern: str) -> str | None:
    """`allow_tags` is RE2 syntax, matched in linear time (as Flux, whose Go regexp is RE2): no
    backreferences, no lookaround, repetitions up to {1000}. Also refused, whatever the engine: a
    repetition of a group that is itself only a repetition, such as (a+)+, (a*)*, (\\w+\\s?)+ — in a
    backtracking engine (Python's re, PCRE) a near-miss tag takes exponential time (ReDoS)."""
    if len(pattern) > MAX_REGEX:
        return f"is {len(pattern)} characters long; the limit is {MAX_REGEX}"
    try:
        _re2_compile(pattern)
    except _Re2Error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return (f"invalid regular expression {pattern!r}: {reason} (RE2 syntax, as Go and Flux: no backreferences, "
                "no lookaround)")
    nested = _nested_repetition(pattern)
    if nested is not None:
        return (f"{pattern!r} repeats a repetition, {nested}: a backtracking regex engine takes exponential time on "
                "a tag that almost matches; repeat once (e.g. a+ rather than (a+)+)")
    return None


def _re2_compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr
    return re2.compile(pattern, options)


def _nested_repetition(pattern: str) -> str | None:
    """The first `(…)` + quantifier whose group only repeats something unbounded (every other part of it can
    match nothing), as text; None when there is none. The pattern is valid RE2 (checked before)."""
    # A frame per open group: its start, its alternatives so far, the items of the current one.
    # An item is (nullable, loops): it can match nothing / it is an unbounded repetition at heart.
    stack: list[tuple[int, list[list[tuple[bool, bool]]], list[tuple[bool, bool]]]] = [(0, [], [])]
    last: tuple[int, int] | None = None  # where the last item's text starts and ends, for the message
    i, n = 0, len(pattern)
    while i < n:
        c, start = pattern[i], i
        _, alts, items = stack[-1]
        if c == "\\":
            if pattern.startswith("\\Q", i):
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                items.append((i - start == 4, False))
                last = (start, i)
                continue
            if i + 2 < n and pattern[i + 1] in "pPx" and pattern[i + 2] == "{":
                i = pattern.index("}", i) + 1
            else:
                i += 2
            items.append((pattern[start + 1:start + 2] in ("b", "B", "A", "z"), False))
            last = (start, i)
        elif c == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                if pattern[i] == "\\":
                    i += 2
                elif pattern.startswith("[:", i) and ":]" in pattern[i + 2:]:
                    i = pattern.index(":]", i + 2) + 2
                else:
                    i += 1
            i += 1
            items.append((False, False))
            last = (start, i)
        elif c == "(":
            flags = re.match(r"\(\?[a-zA-Z-]*\)", pattern[i:])
            if flags:  # (?i): sets flags, matches nothing
                i += flags.end()
                items.append((True, False))
                last = (start, i)
                continue
            group = re.match(r"\((\?P?<\w+>|\?[a-zA-Z-]*:)?", pattern[i:])
            i += group.end() if group else 1
            stack.append((start, [], []))
        elif c == ")":
            open_at, alts, items = stack.pop()
            alts = [*alts, items]
            i += 1
            stack[-1][2].append((any(all(nul for nul, _ in alt) for alt in alts), any(map(_only_loops, alts))))
            last = (open_at, i)
        elif c == "|":
            alts.append(list(items))
            items.clear()
            i += 1
        elif c in "*+?{":
            quantifier = re.match(r"\*|\+|\?|\{(\d+)(,(\d*))?\}", pattern[i:])
            if quantifier is None or not items:  # a literal '{'
                items.append((False, False))
                last = (start, i + 1)
                i += 1
                continue
            text = quantifier.group()
            i += len(text)
            if i < n and pattern[i] == "?":
                i += 1
            if text == "*":
                low, high = 0, math.inf
            elif text == "+":
                low, high = 1, math.inf
            elif text == "?":
                low, high = 0, 1
            else:
                low = int(quantifier.group(1))
                high = low if quantifier.group(2) is None else (
                    math.inf if not quantifier.group(3) else int(quantifier.group(3)))
            nullable, loops = items[-1]
            if high > 1 and loops and last is not None:
                return pattern[last[0]:i]
            items[-1] = (nullable or low == 0, high == math.inf or (loops and high > 1))
            last = (last[0] if last else start, i)
        else:
            items.append((c in "^$", False))
            last = (start, i + 1)
            i += 1
    return None


def _only_loops(items: list[tuple[bool, bool]]) -> bool:
    """One item of this sequence is an unbounded repetition and every other can match nothing."""
    return any(loops and all(nullable for k, (nullable, _) in enumerate(items) if k != j)
               for j, (_, loops) in enumerate(items))


def condition_problem(text: str) -> str | None:
    """A success/failure condition over MAX_CONDITION characters. Depth, escapes and syntax are the
    analysis parser's rules (domain.expr.Condition: the same for AnalysisTemplates in the
    repository), reported by parse_metric with the place in the condition."""
    if len(text) > MAX_CONDITION:
        return f"is {len(text):,} characters long; the limit is {MAX_CONDITION:,}"
    return None


def _checked(c: Cursor, problem: str | None, value: str) -> str | None:
    if problem is not None:
        c.error(problem)
        return None
    return value


def _http_url(c: Cursor, *, secrets: str) -> str | None:
    text = c.str(max_len=MAX_URL)
    return None if text is None else _checked(c, url_problem(text, secrets=secrets), text)


def _repository_url(c: Cursor) -> str | None:
    text = c.str(max_len=MAX_URL)
    return None if text is None else _checked(c, repository_url_problem(text), text)


def _branch(c: Cursor) -> str | None:
    text = c.str(max_len=255)
    if text is None:
        return None
    problem = branch_problem(text)
    return _checked(c, None if problem is None else f"{shown(text)} is not a valid branch name: {problem} "
                    "(git check-ref-format --branch)", text)


def _repo_path(c: Cursor, *, placeholder: str | None = None) -> str | None:
    text = c.str(max_len=MAX_PATH)
    if text is None:
        return None
    problem = repo_path_problem(text.replace(placeholder, "env") if placeholder else text)
    return _checked(c, None if problem is None else f"must be a path inside the repository, not {shown(text)}: "
                    f"{problem}", text)


def _regex(c: Cursor) -> str | None:
    text = c.str(max_len=MAX_REGEX)
    return None if text is None else _checked(c, regex_problem(text), text)


def _author_name(c: Cursor) -> str | None:
    text = c.str(max_len=256)
    if text is None:
        return None
    problem = None
    if text != text.strip():
        problem = "must not start or end with spaces"
    elif "<" in text or ">" in text:
        problem = "must not contain '<' or '>' (git writes the author as NAME <EMAIL>)"
    return _checked(c, problem, text)


def _email(c: Cursor) -> str | None:
    text = c.str(max_len=254)
    if text is None:
        return None
    ok = re.fullmatch(r"[^\s<>@]+@[^\s<>@]+", text)
    return _checked(c, None if ok else f"must be an email address (NAME@DOMAIN, no spaces, '<' or '>'), not "
                    f"{shown(text)}", text)


_GITHUB_REPO = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}")
_APPROVER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}|\[bot\])?")


def _approvers(c: Cursor) -> list[str]:
    out: list[str] = []
    for item in c.sequence():
        text = item.str(max_len=200)
        if text is None:
            continue
        if not _APPROVER.fullmatch(text) or ".." in text:
            item.error(f"must be a GitHub user or ORG/TEAM slug, not {shown(text)}")
            continue
        out.append(text)
    return out


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _namespaced(c: Cursor) -> str | None:
    """NAMESPACE/NAME of a Kubernetes object: a DNS label and a DNS subdomain (they end up in API paths)."""
    text = c.str(max_len=317)
    if text is None:
        return None
    namespace, _, name = text.partition("/")
    ok = _DNS_LABEL.fullmatch(namespace) and _DNS_SUBDOMAIN.fullmatch(name) and ".." not in name
    return _checked(c, None if ok else "must be NAMESPACE/NAME (Kubernetes names: lowercase letters, digits, '-' "
                    "and, in the name, '.')", text)


def _title(c: Cursor) -> str | None:
    """`commit: {title: …}` / `pull_request: {title: …}`: a title template (domain.titles)."""
    m = c.mapping(("title",), required=("title",))
    text = m["title"].str(max_len=MAX_TEMPLATE) if "title" in m else None
    return None if text is None else _checked(m["title"], template_problem(text), text)


def _flux_policy(c: Cursor) -> str | None:
    """A Flux ImagePolicy as its setter markers name it: NAMESPACE:NAME (fluxcd/image-automation-controller
    pkg/update/setters.go: "A colon is used to separate namespace and name"); Kubernetes names."""
    text = c.str(max_len=317)
    if text is None:
        return None
    namespace, _, name = text.partition(":")
    ok = _DNS_LABEL.fullmatch(namespace) and _DNS_SUBDOMAIN.fullmatch(name) and ".." not in name
    return _checked(c, None if ok else f"must be NAMESPACE:NAME of a Flux ImagePolicy, as its markers write it "
                    f"(# {{\"$imagepolicy\": \"flux-system:web\"}}), not {shown(text)}", text)


def _gate_duration_ok(text: str) -> bool:
    """Argo's pause duration as the promoter writes it: a whole number and an optional unit, > 0, <= 24h."""
    m = re.fullmatch(r"([0-9]{1,9})(ms|s|m|h)?", text)
    if m is None:
        return False
    seconds = int(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return 0 < seconds <= 24 * 3600


def _metric_in_bounds(mm: dict[str, Cursor]) -> bool:
    """The limits of an inline metric that domain.analysis does not hold (it checks types, count >= 1 and
    the rest of Argo's rules): counts and limits at most MAX_METRIC_COUNT, durations finite and at most a
    day, one-line name, conditions bounded (`condition_problem`). Reported here; False skips the metric."""
    ok = True

    def refuse(cur: Cursor, message: str) -> None:
        nonlocal ok
        cur.error(message)
        ok = False

    for key in ("count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit"):
        value = mm[key].value if key in mm else None
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_METRIC_COUNT:
            refuse(mm[key], f"{key} must be at most {MAX_METRIC_COUNT:,}, not {value:,}")
    for key in ("interval", "initialDelay"):
        value = mm[key].value if key in mm else None
        if isinstance(value, float) and not math.isfinite(value):
            refuse(mm[key], f"{key} must be a duration such as 30s, 5m or 1h, not {value}")
        elif isinstance(value, str) and len(value) > 32:
            refuse(mm[key], f"{key} must be a duration such as 30s, 5m or 1h, not {shown(value)}")
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                seconds = parse_duration(value, key)
            except ValueError:
                continue  # parse_metric says so
            if seconds > 24 * 3600:
                refuse(mm[key], f"{key} must be at most 24h")
    if "name" in mm and mm["name"].str(max_len=253) is None:
        ok = False
    for key in ("successCondition", "failureCondition"):
        if key in mm and isinstance(mm[key].value, str):
            problem = condition_problem(mm[key].value)
            if problem is not None:
                refuse(mm[key], f"{key} {problem}")
    return ok
