"""The configuration as frozen, validated objects. Built only by `loader.parse_config`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gitops_promoter.domain.edits import Edit
from gitops_promoter.domain.imageref import ImageRef
from gitops_promoter.domain.policy import Policy
from gitops_promoter.errors import ConfigError

if TYPE_CHECKING:  # types only: canary and pull-request code loads when a config uses it
    from gitops_promoter.domain.analysis import Metric
    from gitops_promoter.domain.approval import Rule as ApprovalRule

MAX_SECRET_BYTES = 64 * 1024  # a token, a password or a PEM private key is a few KiB


@dataclass(frozen=True)
class SecretRef:
    """A secret by reference (``env:NAME`` or ``file:PATH``); resolved at use, never logged."""

    scheme: Literal["env", "file"]
    target: str
    where: str  # file:line:col: key.path — for errors

    def resolve(self) -> str:
        if self.scheme == "env":
            value = os.environ.get(self.target)
            if value is None:
                raise ConfigError([f"{self.where}: environment variable {self.target} is not set"])
            return value
        try:
            with Path(self.target).open("rb") as fh:
                data = fh.read(MAX_SECRET_BYTES + 1)  # never more: file:/dev/zero must not fill the memory
        except OSError as exc:
            raise ConfigError([f"{self.where}: cannot read secret file {self.target}: {exc.strerror}"]) from None
        if len(data) > MAX_SECRET_BYTES:
            raise ConfigError([f"{self.where}: secret file {self.target} is larger than {MAX_SECRET_BYTES:,} bytes; "
                               "is this the right file?"])
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigError([f"{self.where}: secret file {self.target} is not UTF-8 text"]) from None

    def __repr__(self) -> str:
        return f"SecretRef({self.scheme}:{self.target})"


@dataclass(frozen=True)
class RegistryConfig:
    prefix: str
    api_url: str
    username: SecretRef | None = None
    password: SecretRef | None = None
    token: SecretRef | None = None
    pull_secret: SecretRef | None = None  # a Kubernetes .dockerconfigjson file: credentials for this registry
    rate_limit: float = 10.0
    insecure: bool = False
    ca_file: str | None = None
    timeout: float = 10.0
    max_retries: int = 4
    max_retry_after: float = 60.0  # a Retry-After above this is not slept on: the pass gives up, the next retries
    max_concurrency: int = 4  # requests in flight to this registry at once

    def matches(self, image: str) -> bool:
        return image == self.prefix or image.startswith(self.prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class GitHubConfig:
    repo: str
    api_url: str = "https://api.github.com"
    token: SecretRef | None = None
    app_id: int | None = None
    installation_id: int | None = None
    private_key: SecretRef | None = None
    seconds_between_requests: float = 0.25  # GitHub's pacing advice for integrations
    seconds_between_writes: float = 1.0


@dataclass(frozen=True)
class RepositoryConfig:
    name: str
    url: str
    branch: str = "main"
    token: SecretRef | None = None
    ssh_key: SecretRef | None = None
    author_name: str = "gitops-promoter"
    author_email: str = "gitops-promoter@localhost"
    github: GitHubConfig | None = None
    commit_title: str | None = None  # `commit.title`: a template (domain.titles) for promotion commits
    pull_request_title: str | None = None  # `pull_request.title`: the same for promotion pull requests


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    mode: Literal["direct", "pull-request"]
    approval: ApprovalRule | None = None
    # squash by default: one commit per promotion on the branch, carrying the promoter's trailers, so
    # O&M's usual `git revert HEAD` rolls a promotion back (a merge commit would need `-m 1`).
    merge_method: str = "squash"
    labels: tuple[str, ...] = ()
    # seconds a tag must have run, canary completed, in the environment before this one (Kargo's
    # requiredSoakTime; domain.soak); 0: none
    soak: float = 0.0


@dataclass(frozen=True)
class TargetConfig:
    env: str
    file: str
    edit: Edit
    pin_digest: bool = False
    cluster: str | None = None
    application: str | None = None
    rollout: str | None = None
    rollout_file: str | None = None  # where the Rollout's steps are, when `file` is not the Rollout

    @property
    def steps_file(self) -> str:
        return self.rollout_file or self.file


@dataclass(frozen=True)
class AnalysisConfig:
    """What a gate measures: inline metrics, or an AnalysisTemplate file in the deployment repo
    (`{env}` in the path is the environment's name)."""

    prometheus: str
    args: Mapping[str, str]
    metrics: tuple[Metric, ...] = ()
    template: str | None = None


@dataclass(frozen=True)
class CanaryConfig:
    gate_duration: str = "10s"
    # seconds: how long a metric with `interval` and no `count` (Argo's background shape) is measured
    # at a gate before it is Successful if it never failed (Metric.gate_window)
    gate_window: float = 300.0
    analysis: AnalysisConfig | None = None  # for every gate
    gates: Mapping[int, AnalysisConfig] = field(default_factory=dict)  # per gate (step index), overriding


@dataclass(frozen=True)
class AppConfig:
    name: str
    image: str
    repository: str
    policy: Policy
    targets: Mapping[str, TargetConfig]
    canary: CanaryConfig | None = None
    commit_title: str | None = None  # its repository's `commit.title`
    pull_request_title: str | None = None  # its repository's `pull_request.title`


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubeconfig: SecretRef | None = None
    context: str | None = None
    in_cluster: bool = False


@dataclass(frozen=True)
class PrometheusConfig:
    name: str
    url: str
    token: SecretRef | None = None
    username: SecretRef | None = None
    password: SecretRef | None = None


JITTER_FACTOR = 1.2  # client-go leaderelection.JitterFactor: retries wait retry_period × (1 + up to 1.2)


@dataclass(frozen=True)
class LeaderElectionConfig:
    """A Kubernetes coordination.k8s.io/v1 Lease, as client-go's leader election uses it.
    Only the replica holding the Lease writes; the others stand by."""

    cluster: str  # a name from `clusters`: where the Lease lives
    namespace: str
    name: str = "gitops-promoter"
    # Shorter than client-go's usual 15 s / 10 s / 2 s, so a failover stays under 15 s:
    # at worst lease_duration + 2 × 1.2 × retry_period ≈ 10.4 s after the leader's last renew.
    lease_duration: float = 8.0
    renew_deadline: float = 6.0
    retry_period: float = 1.0
    identity: str | None = None  # default: hostname_pid

    def problems(self) -> list[str]:
        """client-go's NewLeaderElector checks: every duration > 0 and leaseDuration > renewDeadline >
        JitterFactor (1.2) × retryPeriod. The one place these rules live (loader and elector)."""
        out = [f"{key} must be greater than zero" for key in ("lease_duration", "renew_deadline", "retry_period")
               if getattr(self, key) <= 0]
        if not self.lease_duration > self.renew_deadline:
            out.append(f"lease_duration ({self.lease_duration:g}s) must be greater than renew_deadline "
                       f"({self.renew_deadline:g}s)")
        if not self.renew_deadline > JITTER_FACTOR * self.retry_period:
            out.append(f"renew_deadline ({self.renew_deadline:g}s) must be greater than {JITTER_FACTOR} * retry_period "
                       f"({self.retry_period:g}s)")
        if not self.name or not self.namespace:
            out.append("namespace and name are required")
        return out


@dataclass(frozen=True)
class ServerConfig:
    listen: str = "127.0.0.1:8080"
    registry_webhook_secret: SecretRef | None = None
    github_webhook_secret: SecretRef | None = None
    leader_election: LeaderElectionConfig | None = None
    workers: int = 4  # reconciles in parallel (different deployment repositories)
    status_token: SecretRef | None = None  # the status page's token (required off loopback)


@dataclass(frozen=True)
class StateConfig:
    journal: str = "gitops-promoter-journal.sqlite"
    poll_interval: float = 120.0
    workdir: str = ".gitops-promoter/repos"
    lock_timeout: float = 30.0  # how long a second process waits for the workdir lock
    recheck_interval: float = 10.0  # how soon the service looks again at a canary in motion
    app_deadline: float = 300.0  # one app's reconcile: no retry wait or new stage after this many seconds


@dataclass(frozen=True)
class Config:
    path: str
    registries: tuple[RegistryConfig, ...]
    repositories: Mapping[str, RepositoryConfig]
    environments: tuple[EnvironmentConfig, ...]
    apps: tuple[AppConfig, ...]
    clusters: Mapping[str, ClusterConfig] = field(default_factory=dict)
    prometheus: Mapping[str, PrometheusConfig] = field(default_factory=dict)
    server: ServerConfig = field(default_factory=ServerConfig)
    state: StateConfig = field(default_factory=StateConfig)

    def registry_for(self, image: str) -> RegistryConfig:
        """The registry entry whose prefix matches the image best; anonymous HTTPS otherwise."""
        matching = [r for r in self.registries if r.matches(image)]
        if matching:
            return max(matching, key=lambda r: len(r.prefix))
        host = ImageRef(image).registry
        api = "https://registry-1.docker.io" if host == "docker.io" else f"https://{host}"
        return RegistryConfig(prefix=host, api_url=api)

    def environment(self, name: str) -> EnvironmentConfig:
        return next(e for e in self.environments if e.name == name)
