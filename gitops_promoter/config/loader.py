"""Load and validate the O&M file. Every problem is reported at once, with file:line:col."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Literal, cast

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from gitops_promoter.config.reader import Cursor, Problems
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
from gitops_promoter.domain.analysis import Metric, MetricError, metric_problems, parse_metric
from gitops_promoter.domain.approval import Rule as ApprovalRule
from gitops_promoter.domain.edits import ContainerEdit, Edit, HelmEdit, KustomizeEdit, MarkerEdit
from gitops_promoter.domain.imageref import ImageRef
from gitops_promoter.domain.policy import Policy
from gitops_promoter.errors import ConfigError, PolicyError, PromoterError

TOP = ("version", "registries", "repositories", "clusters", "prometheus", "environments", "apps", "server",
       "state")
POLICY_KEYS = ("strategy", "constraint", "semver_mode", "allow_tags", "ignore_tags", "extract", "order",
               "ignore_signature_tags")
METRIC_KEYS = ("name", "query", "interval", "count", "initialDelay", "successCondition", "failureCondition",
               "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit", "emptyResult",
               "dryRun")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a config file; ConfigError lists every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str) -> Config:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([f"{where}: not valid YAML: {exc.problem or exc.context}"]) from None
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
    return SecretRef(scheme, target, c.where)  # type: ignore[arg-type]


def _seconds(c: Cursor | None, default: float) -> float:
    if c is None:
        return default
    value = c.duration()
    return default if value is None else value


def _plain(value: Any) -> Any:
    if isinstance(value, CommentedMap | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, CommentedSeq | list):
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
        if "version" in top and top["version"].value != 1:
            top["version"].error(f"unsupported version {top['version'].value!r}; this promoter reads version 1")
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
        if c is None:
            return None
        text = c.str()
        if text is not None and not _NAME.match(text):
            c.error(f"{text!r} is not a valid name (lowercase letters, digits, '.', '_' and '-')")
            return None
        return text

    # --- registries -------------------------------------------------------------
    def registry(self, c: Cursor) -> RegistryConfig | None:
        m = c.mapping(("prefix", "api_url", "auth", "rate_limit", "insecure", "ca_file", "timeout",
                       "max_retries"), required=("prefix",))
        prefix = m["prefix"].str() if "prefix" in m else None
        if prefix is None:
            return None
        api_url = f"https://{prefix.split('/')[0]}"
        if "api_url" in m:
            api_url = m["api_url"].str() or api_url
            if not re.match(r"^https?://", api_url):
                m["api_url"].error(f"must start with http:// or https://, not {api_url!r}")
        username = password = token = None
        if "auth" in m:
            a = m["auth"].mapping(("username", "password", "token"))
            username = _secret(a["username"]) if "username" in a else None
            password = _secret(a["password"]) if "password" in a else None
            token = _secret(a["token"]) if "token" in a else None
            if ("username" in a) != ("password" in a):
                m["auth"].error("basic auth needs both username and password")
        return RegistryConfig(
            prefix=prefix, api_url=api_url.rstrip("/"), username=username, password=password, token=token,
            rate_limit=(m["rate_limit"].number(positive=True) or 10.0) if "rate_limit" in m else 10.0,
            insecure=bool(m["insecure"].bool()) if "insecure" in m else False,
            ca_file=m["ca_file"].str() if "ca_file" in m else None,
            timeout=(m["timeout"].duration() or 10.0) if "timeout" in m else 10.0,
            max_retries=(m["max_retries"].int(minimum=0) or 0) if "max_retries" in m else 4,
        )

    # --- repositories -----------------------------------------------------------
    def repository(self, c: Cursor) -> RepositoryConfig | None:
        m = c.mapping(("name", "url", "branch", "credentials", "author", "github"), required=("name", "url"))
        name = self.name(m.get("name"), c)
        url = m["url"].str() if "url" in m else None
        if name is None or url is None:
            return None
        token = ssh_key = None
        if "credentials" in m:
            cred = m["credentials"].mapping(("token", "ssh_key"))
            token = _secret(cred["token"]) if "token" in cred else None
            ssh_key = _secret(cred["ssh_key"]) if "ssh_key" in cred else None
        author_name, author_email = "gitops-promoter", "gitops-promoter@localhost"
        if "author" in m:
            a = m["author"].mapping(("name", "email"), required=("name", "email"))
            author_name = (a["name"].str() if "name" in a else None) or author_name
            author_email = (a["email"].str() if "email" in a else None) or author_email
        github = self.github(m["github"]) if "github" in m else None
        return RepositoryConfig(name=name, url=url, branch=(m["branch"].str() if "branch" in m else None) or "main",
                                token=token, ssh_key=ssh_key, author_name=author_name, author_email=author_email,
                                github=github)

    def github(self, c: Cursor) -> GitHubConfig | None:
        m = c.mapping(("repo", "api_url", "token", "app_id", "installation_id", "private_key",
                       "seconds_between_requests", "seconds_between_writes"), required=("repo",))
        repo = m["repo"].str() if "repo" in m else None
        if repo is None:
            return None
        if "/" not in repo:
            m["repo"].error(f"must be OWNER/NAME, not {repo!r}")
        app_id = m["app_id"].int(minimum=1) if "app_id" in m else None
        if app_id is not None and "private_key" not in m:
            c.error("GitHub App auth needs private_key (and installation_id)")
        return GitHubConfig(
            repo=repo, api_url=((m["api_url"].str() if "api_url" in m else None) or "https://api.github.com"),
            token=_secret(m["token"]) if "token" in m else None, app_id=app_id,
            installation_id=m["installation_id"].int(minimum=1) if "installation_id" in m else None,
            private_key=_secret(m["private_key"]) if "private_key" in m else None,
            seconds_between_requests=_seconds(m.get("seconds_between_requests"), 0.25),
            seconds_between_writes=_seconds(m.get("seconds_between_writes"), 1.0))

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
        url = m["url"].str() if "url" in m else None
        if name is None or url is None:
            return None
        return PrometheusConfig(name=name, url=url, token=_secret(m["token"]) if "token" in m else None,
                                username=_secret(m["username"]) if "username" in m else None,
                                password=_secret(m["password"]) if "password" in m else None)

    def server(self, c: Cursor) -> ServerConfig:
        m = c.mapping(("listen", "registry_webhook_secret", "github_webhook_secret", "leader_election", "workers"))
        listen = (m["listen"].str() if "listen" in m else None) or "127.0.0.1:8080"
        if "listen" in m and not re.match(r"^[\w.:\[\]-]*:\d+$", listen):
            m["listen"].error(f"must be HOST:PORT, not {listen!r}")
        return ServerConfig(
            listen=listen,
            registry_webhook_secret=_secret(m["registry_webhook_secret"]) if "registry_webhook_secret" in m else None,
            github_webhook_secret=_secret(m["github_webhook_secret"]) if "github_webhook_secret" in m else None,
            leader_election=self.leader_election(m["leader_election"]) if "leader_election" in m else None,
            workers=(m["workers"].int(minimum=1) if "workers" in m else None) or ServerConfig().workers)

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
            lease_duration=_seconds(m.get("lease_duration"), d.lease_duration),
            renew_deadline=_seconds(m.get("renew_deadline"), d.renew_deadline),
            retry_period=_seconds(m.get("retry_period"), d.retry_period),
            identity=m["identity"].str() if "identity" in m else None)
        for problem in built.problems():
            if not problem.startswith("namespace and name"):  # missing keys are reported by mapping()
                c.error(problem)
        return built if cluster is not None and namespace is not None else None

    def state(self, c: Cursor) -> StateConfig:
        m = c.mapping(("journal", "poll_interval", "workdir", "lock_timeout", "recheck_interval"))
        d = StateConfig()
        journal = m["journal"].str() if "journal" in m else None
        if journal and re.search(r"://[^/@]*:[^/@]*@", journal):
            m["journal"].error("a password in the journal URL would sit in the config in plain text; give the URL "
                               "without it and the password in PGPASSWORD or ~/.pgpass")
        return StateConfig(journal=(m["journal"].str() if "journal" in m else None) or d.journal,
                           poll_interval=(m["poll_interval"].duration() if "poll_interval" in m else None)
                           or d.poll_interval,
                           workdir=(m["workdir"].str() if "workdir" in m else None) or d.workdir,
                           lock_timeout=_seconds(m.get("lock_timeout"), d.lock_timeout),
                           recheck_interval=_seconds(m.get("recheck_interval"), d.recheck_interval))

    # --- environments -----------------------------------------------------------
    def environment(self, c: Cursor) -> EnvironmentConfig | None:
        m = c.mapping(("name", "mode", "approval", "merge_method", "labels"), required=("name", "mode"))
        name = self.name(m.get("name"), c)
        mode = m["mode"].choice(("direct", "pull-request")) if "mode" in m else None
        if name is None or mode is None:
            return None
        approval = None
        if "approval" in m:
            if mode == "direct":
                m["approval"].error("only pull-request environments take an approval rule")
            a = m["approval"].mapping(("required", "approvers", "dismiss_stale", "checks"))
            approval = ApprovalRule(
                required=(a["required"].int(minimum=0) or 0) if "required" in a else 1,
                approvers=tuple(a["approvers"].str_list()) if "approvers" in a else (),
                dismiss_stale=a["dismiss_stale"].bool() is not False if "dismiss_stale" in a else True,
                checks=tuple(a["checks"].str_list()) if "checks" in a else ())
        elif mode == "pull-request":
            approval = ApprovalRule()
        merge = (m["merge_method"].choice(("merge", "squash", "rebase")) if "merge_method" in m else None) \
            or EnvironmentConfig.merge_method
        return EnvironmentConfig(name=name, mode=cast(Literal["direct", "pull-request"], mode), approval=approval,
                                 merge_method=merge,
                                 labels=tuple(m["labels"].str_list()) if "labels" in m else ())

    # --- apps ---------------------------------------------------------------------
    def app(self, c: Cursor, envs: list[str], repos: dict[str, RepositoryConfig],
            clusters: dict[str, ClusterConfig], prometheus: dict[str, PrometheusConfig],
            modes: dict[str, str]) -> AppConfig | None:
        m = c.mapping(("name", "image", "repository", "policy", "targets", "canary"),
                      required=("name", "image", "repository", "policy", "targets"))
        name = self.name(m.get("name"), c)
        image = m["image"].str() if "image" in m else None
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
        targets: dict[str, TargetConfig] = {}
        if "targets" in m:
            for env, tc in m["targets"].items():
                if env not in envs:
                    tc.error(f"no environment named {env!r} (environments: {', '.join(envs)})")
                    continue
                target = self.target(env, tc, name or "", clusters)
                if target is not None:
                    targets[env] = target
                if modes.get(env) == "pull-request" and repo in repos and repos[repo].github is None:
                    tc.error(f"{env} promotes by pull request, but repository {repo!r} has no github section")
        canary = self.canary(m["canary"], prometheus) if "canary" in m else None
        if None in (name, image, repo, policy):
            return None
        return AppConfig(name=name, image=image, repository=repo, policy=policy,  # type: ignore[arg-type]
                         targets=targets, canary=canary)

    def policy(self, c: Cursor) -> Policy | None:
        m = c.mapping(POLICY_KEYS, required=("strategy",))
        if "strategy" not in m:
            return None
        args: dict[str, Any] = {}
        for key, cur in m.items():
            if key == "ignore_tags":
                args[key] = cur.str_list()
            elif key == "ignore_signature_tags":
                args[key] = cur.bool()
            else:
                args[key] = cur.str(allow_empty=key == "constraint")
        try:
            return Policy.build(**args)
        except PolicyError as exc:
            key, _, message = str(exc).partition(": ")
            if key in m:
                m[key].error(message)
            else:
                c.error(str(exc))
            return None

    def target(self, env: str, c: Cursor, app: str, clusters: dict[str, ClusterConfig]) -> TargetConfig | None:
        m = c.mapping(("file", "edit", "pin_digest", "cluster", "application", "rollout", "rollout_file"),
                      required=("file", "edit"))
        file = m["file"].str() if "file" in m else None
        if file is not None and (file.startswith("/") or ".." in Path(file).parts):
            m["file"].error(f"must be a path inside the repository, not {file!r}")
        edit = self.edit(m["edit"], app) if "edit" in m else None
        cluster = m["cluster"].str() if "cluster" in m else None
        if cluster is not None and cluster not in clusters:
            m["cluster"].error(f"no cluster named {cluster!r} (clusters: {', '.join(clusters) or 'none'})")
        for key in ("application", "rollout"):
            if key in m and "/" not in (m[key].str() or "/"):
                m[key].error("must be NAMESPACE/NAME")
        if file is None or edit is None:
            return None
        return TargetConfig(env=env, file=file, edit=edit,
                            pin_digest=bool(m["pin_digest"].bool()) if "pin_digest" in m else False,
                            cluster=cluster, application=m["application"].str() if "application" in m else None,
                            rollout=m["rollout"].str() if "rollout" in m else None,
                            rollout_file=m["rollout_file"].str() if "rollout_file" in m else None)

    def edit(self, c: Cursor, app: str) -> Edit | None:
        m = c.mapping(("kind", "container", "name", "key", "digest_key", "marker"), required=("kind",))
        kind = m["kind"].choice(("container", "kustomize", "helm", "marker")) if "kind" in m else None
        needs = {"container": "container", "kustomize": "name", "helm": "key"}
        allowed = {"container": {"kind", "container"}, "kustomize": {"kind", "name"},
                   "helm": {"kind", "key", "digest_key"}, "marker": {"kind", "marker"}}
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
        return MarkerEdit((m["marker"].str() if "marker" in m else None) or app)

    def canary(self, c: Cursor, prometheus: dict[str, PrometheusConfig]) -> CanaryConfig | None:
        m = c.mapping(("gate_duration", "gate_window", "analysis", "gates"))
        gate = "10s"
        if "gate_duration" in m:
            text = m["gate_duration"].str()
            if text is not None and not re.fullmatch(r"\d+(ms|s|m|h)?", text):
                m["gate_duration"].error(f"must be a duration such as 10s, not {text!r}")
            gate = text or gate
        window = CanaryConfig().gate_window
        if "gate_window" in m:
            seconds = m["gate_window"].duration()
            if seconds is not None and seconds <= 0:
                m["gate_window"].error("must be greater than 0")
            elif seconds is not None:
                window = seconds
        analysis = self.analysis(m["analysis"], prometheus, window) if "analysis" in m else None
        gates: dict[int, AnalysisConfig] = {}
        if "gates" in m:
            for key, gc in m["gates"].items():
                if not key.isdigit():
                    gc.error(f"gate keys are step indexes in spec.strategy.canary.steps, not {key!r}")
                    continue
                g = gc.mapping(("analysis",), required=("analysis",))
                built = self.analysis(g["analysis"], prometheus, window) if "analysis" in g else None
                if built is not None:
                    gates[int(key)] = built
        return CanaryConfig(gate_duration=gate, gate_window=window, analysis=analysis, gates=gates)

    def analysis(self, c: Cursor, prometheus: dict[str, PrometheusConfig],
                 window: float = CanaryConfig().gate_window) -> AnalysisConfig | None:
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
                if not mm:
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
        template = a["template"].str() if "template" in a else None
        if ("metrics" in a) == ("template" in a):
            c.error("give either metrics or template")
        if ref is None:
            return None
        return AnalysisConfig(prometheus=ref, args=args, metrics=tuple(metrics), template=template)
