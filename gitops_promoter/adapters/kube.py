"""Observing Argo CD Applications and Argo Rollouts through the kubernetes client.

The promoter only reads workloads; the one write it makes is Argo CD's documented refresh
annotation on an Application, so Argo CD looks at git right after a push. Waiting for a Rollout
uses watches from the last resourceVersion, reconnecting when a stream ends, and falls back to
polling when watching fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from gitops_promoter.adapters.retry import Backoff, Retry, parse_retry_after, retrying
from gitops_promoter.config.schema import ClusterConfig
from gitops_promoter.domain.canary import PAUSE_REASON, RolloutView
from gitops_promoter.errors import PermanentError, PromoterError, TransientError
from gitops_promoter.ports import AppView

log = logging.getLogger(__name__)

ARGO = ("argoproj.io", "v1alpha1")


class ClusterError(PromoterError):
    def __init__(self, *, cluster: str, detail: str) -> None:
        self.cluster, self.detail = cluster, detail
        super().__init__(f"cluster {cluster}: {detail}")


class ClusterUnavailable(ClusterError, TransientError):
    pass


class ClusterRejected(ClusterError, PermanentError):
    pass


def _split(ref: str) -> tuple[str, str]:
    namespace, _, name = ref.partition("/")
    return namespace, name


def rollout_view(obj: dict[str, Any]) -> RolloutView:
    """What the promoter reads of a Rollout's status (argo-rollouts pkg/apis/rollouts/v1alpha1/types.go
    RolloutStatus): `phase` and `message` as the controller writes them (utils/rollout/rolloututil.go
    CalculateRolloutPhase, e.g. Paused "CanaryPauseStep", Degraded "ProgressDeadlineExceeded: ReplicaSet
    \"web-6b8cf6f7db\" has timed out progressing."), every `pauseConditions[].reason`, `controllerPause`,
    `abort`, and `observedGeneration` (a number since v0.10; an older hash counts as observed, as
    GetRolloutPhase's isGenerationObserved says). Without a message, or a phase (a status written
    before v1.0), the Degraded phase and its message come from the conditions, as
    CalculateRolloutPhase computes them."""
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    reasons = tuple(str(c["reason"]) for c in status.get("pauseConditions") or [] if c.get("reason"))
    index = status.get("currentStepIndex")
    generation = int(meta.get("generation") or 0)
    observed = str(status.get("observedGeneration") or "0")
    phase, message = status.get("phase"), str(status.get("message") or "")
    degraded = _degraded(status.get("conditions") or [])
    if degraded and not phase:
        phase = "Degraded"
    return RolloutView(
        phase=phase, step_index=int(index) if index is not None else None,
        paused_at_step=PAUSE_REASON in reasons, aborted=bool(status.get("abort")), generation=generation,
        observed_generation=int(observed) if observed.isdigit() else generation,
        images=tuple(str(c.get("image", "")) for c in containers),
        message=message or degraded,
        pause_reasons=reasons, controller_pause=bool(status.get("controllerPause")))


def _degraded(conditions: list[dict[str, Any]]) -> str:
    """The message CalculateRolloutPhase gives a Degraded Rollout from its conditions, or "": an
    InvalidSpec condition, or one whose reason is RolloutAborted or ProgressDeadlineExceeded."""
    for condition in conditions:
        if condition.get("type") == "InvalidSpec":
            return f"InvalidSpec: {condition.get('message') or ''}"
        if condition.get("reason") in ("RolloutAborted", "ProgressDeadlineExceeded"):
            return f"{condition['reason']}: {condition.get('message') or ''}"
    return ""


def api_client_for(cfg: ClusterConfig) -> client.ApiClient:
    """A kubernetes ApiClient for a configured cluster: in-cluster, or a kubeconfig file and context."""
    if cfg.in_cluster:
        config.load_incluster_config()
        return client.ApiClient()
    assert cfg.kubeconfig is not None
    path = cfg.kubeconfig.target if cfg.kubeconfig.scheme == "file" else None
    if path is None:
        raise ClusterRejected(cluster=cfg.name, detail="kubeconfig must be a file:PATH reference")
    return cast(client.ApiClient, config.new_client_from_config(config_file=path, context=cfg.context))


def application_view(obj: dict[str, Any]) -> AppView:
    """What the promoter reads of an Application (argo-cd pkg/apis/application/v1alpha1/types.go):
    `status.sync` {status, revision, revisions (multi-source)} is the last *comparison*;
    `status.operationState` {phase, syncResult {revision, revisions}} the last sync operation."""
    status = obj.get("status") or {}
    sync = status.get("sync") or {}
    applied: list[str] = []
    operation = status.get("operationState") or {}
    result = operation.get("syncResult") or {}
    if operation.get("phase") == "Succeeded":
        applied += _revisions(result)
    if sync.get("status") == "Synced":
        applied += _revisions(sync)
    return AppView(sync.get("revision") or next(iter(_revisions(sync)), None), sync.get("status"),
                   (status.get("health") or {}).get("status"), tuple(dict.fromkeys(applied)))


def _revisions(part: dict[str, Any]) -> list[str]:
    found = [str(r) for r in part.get("revisions") or [] if r]
    return found or ([str(part["revision"])] if part.get("revision") else [])


class KubeCluster:
    def __init__(self, cfg: ClusterConfig, *, api_client: client.ApiClient | None = None, retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = cfg.name
        self.api = client.CustomObjectsApi(api_client or api_client_for(cfg))
        self._retries = retries
        self._sleep = sleep
        self._backoff = Backoff(base=0.2, cap=5.0)

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            try:
                return fn()
            except ApiException as exc:
                detail = f"{what}: HTTP {exc.status} {exc.reason}"
                if exc.status is not None and exc.status < 500 and exc.status != 429:
                    raise ClusterRejected(cluster=self.name, detail=detail) from None
                wait = parse_retry_after((exc.headers or {}).get("Retry-After")) if exc.status == 429 else None
                raise Retry(detail, wait=wait, status=exc.status) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise Retry(f"{what}: {type(exc).__name__}: {exc}") from None

        return retrying(attempt, attempts=self._retries + 1, backoff=self._backoff, sleep=self._sleep,
                        what=f"cluster {self.name}",
                        give_up=lambda failure, tries: ClusterUnavailable(cluster=self.name, detail=failure.detail))

    def application(self, ref: str) -> AppView:
        ns, name = _split(ref)
        obj = self._call(f"get application {ref}", lambda: self.api.get_namespaced_custom_object(
            *ARGO, ns, "applications", name))
        return application_view(obj)

    def rollout(self, ref: str) -> RolloutView:
        ns, name = _split(ref)
        return rollout_view(self._call(f"get rollout {ref}", lambda: self.api.get_namespaced_custom_object(
            *ARGO, ns, "rollouts", name)))

    def refresh(self, ref: str) -> None:
        """Ask Argo CD to look at git now (argocd.argoproj.io/refresh: normal)."""
        ns, name = _split(ref)
        body = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
        self._call(f"refresh application {ref}", lambda: self.api.patch_namespaced_custom_object(
            *ARGO, ns, "applications", name, body))

    def wait_rollout(self, ref: str, until: Callable[[RolloutView], bool], *, timeout: float,
                     clock: Callable[[], float] = time.monotonic) -> RolloutView | None:
        """The Rollout's view once `until` holds, or None after `timeout`. Watches from the last
        resourceVersion and reconnects; polls when the watch itself fails."""
        ns, name = _split(ref)
        deadline = clock() + timeout
        obj = self._call(f"get rollout {ref}", lambda: self.api.get_namespaced_custom_object(
            *ARGO, ns, "rollouts", name))
        view = rollout_view(obj)
        if until(view):
            return view
        version = obj["metadata"].get("resourceVersion")
        while clock() < deadline:
            remaining = max(1, int(deadline - clock()))
            try:
                stream = watch.Watch().stream(
                    self.api.list_namespaced_custom_object, *ARGO, ns, "rollouts",
                    field_selector=f"metadata.name={name}", resource_version=version, timeout_seconds=remaining)
                for event in stream:
                    item = event["object"]
                    if event.get("type") == "ERROR":
                        version = None  # 410 Gone: start again from a fresh read
                        break
                    version = item["metadata"].get("resourceVersion", version)
                    view = rollout_view(item)
                    if until(view):
                        return view
                    if clock() >= deadline:
                        return None
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("cluster %s: watch of %s failed (%s); polling", self.name, ref, exc)
                self._sleep(1.0)
            # Reconnect point: re-read, then watch on from that resourceVersion.
            obj = self._call(f"get rollout {ref}", lambda: self.api.get_namespaced_custom_object(
                *ARGO, ns, "rollouts", name))
            version = obj["metadata"].get("resourceVersion")
            view = rollout_view(obj)
            if until(view):
                return view
        return None
