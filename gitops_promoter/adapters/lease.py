"""Leader election across replicas through a Kubernetes `coordination.k8s.io/v1` Lease.

Follows client-go's `tools/leaderelection` (kubernetes/client-go):

* `leaderelection.go`, `tryAcquireOrRenew`: the holder renews optimistically with the Lease it
  last saw (fast path) and falls back to get, then create or update. A candidate takes the Lease
  when its holder is empty (released) or when the record has not changed for
  `leaseDurationSeconds` of *local* time: expiry is measured from `observedTime`, the monotonic
  instant this process last saw the record change, never from the record's `renewTime`
  (`isLeaseValid`), so the replicas' wall clocks do not need to agree. Taking over a Lease
  increments `leaseTransitions`; renewing keeps it and `acquireTime`.
* `acquire` retries every `RetryPeriod` with jitter (`wait.JitterUntil`, JitterFactor 1.2);
  `renew` retries every `RetryPeriod` and gives up leading once `RenewDeadline` passes without a
  successful renew. `NewLeaderElector` requires LeaseDuration > RenewDeadline > 1.2 * RetryPeriod.
* `release` (ReleaseOnCancel): re-read the Lease and, if this process still holds it, write an
  empty `holderIdentity` with `leaseDurationSeconds: 1` and the same `leaseTransitions`, so
  another replica takes over at once; retried on conflict.
* `resourcelock/leaselock.go`: the LeaderElectionRecord <-> LeaseSpec mapping (holderIdentity,
  leaseDurationSeconds, acquireTime, renewTime as MicroTime, leaseTransitions); updates send the
  whole Lease last read, so the apiserver rejects them (409) if anyone wrote in between.

What this adds for a Python service: `is_leader()` is checked *before each write* and is true only
while the last successful renew started less than `renew_deadline` ago (monotonic clock). A
leader cut off from the apiserver therefore stops writing `lease_duration - renew_deadline`
before any other replica may take the Lease. Like client-go, this is not fencing: a leader paused
for longer than that between `is_leader()` and its write can still overlap a successor.

Call `stop(release=True)` only after the work guarded by the Lease has finished (client-go's
ReleaseOnCancel has the same contract). Give the elector an ApiClient of its own
(`adapters.kube.api_client_for(cluster)`), so a renew never queues behind watches in a shared pool.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_promoter.config.schema import JITTER_FACTOR, LeaderElectionConfig
from gitops_promoter.errors import ConfigError

log = logging.getLogger(__name__)

RELEASE_ATTEMPTS = 3


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}"


def micro_time(wall: float) -> str:
    """A MicroTime (RFC3339 with exactly six fraction digits, UTC) for a wall-clock instant.

    The apiserver parses MicroTime with Go's layout "2006-01-02T15:04:05.000000Z07:00"
    (apimachinery `meta/v1/micro_time.go`), which rejects a time without its six digits. Newer
    kubernetes clients re-serialize a body's times with `datetime.isoformat()`, which leaves the
    fraction out when it is zero, so an instant on a whole second is moved by one microsecond.
    """
    return _format(datetime.fromtimestamp(wall, tz=UTC))


def _format(moment: datetime) -> str:
    if moment.microsecond == 0:
        moment += timedelta(microseconds=1)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sendable(value: object, default: str) -> str:
    """A MicroTime read from the record, safe to send back (see micro_time)."""
    try:
        return _format(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return default


def validate(config: LeaderElectionConfig) -> None:
    """client-go's NewLeaderElector checks (LeaderElectionConfig.problems), as a ConfigError: for an
    elector built in code rather than from the config file (which reports them with positions)."""
    problems = config.problems()
    if problems:
        raise ConfigError([f"server.leader_election: {p}" for p in problems])


def _status_message(exc: ApiException) -> str:
    try:
        message = json.loads(exc.body or "").get("message")
    except (ValueError, AttributeError, TypeError):
        return ""
    return f": {message}" if message else ""


class _Unreachable(Exception):
    """The API server could not be reached or failed (transport error, 5xx, 429, auth, ...)."""


class LeaseElector:
    """One candidate in a Lease election. `start()` runs it on a daemon thread; `run_once()` is one
    round (acquire or renew) for callers and tests that drive it themselves.

    Callbacks run on the elector's thread, in order, and must return quickly: renewing waits for
    them. An exception in a callback is logged and otherwise ignored."""

    def __init__(self, config: LeaderElectionConfig, api_client: client.ApiClient, *, identity: str | None = None,
                 on_started_leading: Callable[[], None] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        validate(config)
        self.config = config
        self.identity = identity or config.identity or default_identity()
        self.describe = f"{config.namespace}/{config.name}"
        self._api = client.CoordinationV1Api(api_client)
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._clock, self._wall, self._jitter = clock, wall, jitter
        # leaseDurationSeconds is whole seconds; round up, so other candidates never wait less than we mean.
        self._declared_seconds = max(1, math.ceil(config.lease_duration))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by _lock:
        self._lease: dict[str, Any] | None = None  # the Lease object last read or written (for the fast path)
        self._observed: dict[str, Any] | None = None  # its spec (client-go observedRecord)
        self._observed_at = 0.0  # monotonic time the record last changed (client-go observedTime)
        self._renewed_at: float | None = None  # monotonic start of our last successful acquire/renew
        self._reached = False  # the last round got an answer from the API server
        self._failing = False  # inside a streak of API errors (logged once)
        self._stopping = False
        self._release_on_stop = True
        self._leading = False  # what the callbacks were last told
        self._finished = False

    # --- public ------------------------------------------------------------------------------------
    def start(self) -> None:
        log.info("lease %s: %s is a candidate (lease %.1fs, renew deadline %.1fs, retry %.1fs)", self.describe,
                 self.identity, self.config.lease_duration, self.config.renew_deadline, self.config.retry_period)
        with self._lock:
            if self._thread is not None or self._stopping:
                raise RuntimeError("a LeaseElector starts once")
            self._thread = threading.Thread(target=self._run, name=f"lease-elector {self.describe}", daemon=True)
            self._thread.start()

    def stop(self, release: bool = True, *, timeout: float = 2.0) -> bool:
        """Stop campaigning; `is_leader()` is False from now on. With `release`, a held Lease is
        handed back at once (empty holder, 1 s duration). Returns False if the elector's thread
        did not finish within `timeout` (it is a daemon and keeps trying to release)."""
        with self._lock:
            self._stopping = True
            self._release_on_stop = release
            thread = self._thread
        self._wake.set()
        if thread is None:
            self._finish()
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("lease %s: the elector did not stop within %.1fs", self.describe, timeout)
            return False
        return True

    def is_leader(self) -> bool:
        """True only while this process holds the Lease and its last successful renew started less
        than renew_deadline ago. Check it before every write that needs the Lease."""
        with self._lock:
            return self._is_leader_locked(self._clock())

    def leader_identity(self) -> str | None:
        """The holder in the record last observed (None when none was seen or the Lease is released)."""
        with self._lock:
            holder = (self._observed or {}).get("holderIdentity")
            return str(holder) if holder else None

    def state(self) -> str:
        """One of "leader"; "standby" (the API server answers; someone else, or nobody, holds the
        Lease); "unknown" (no answer yet, the API server cannot be reached, or stopped)."""
        with self._lock:
            if self._is_leader_locked(self._clock()):
                return "leader"
            if self._stopping or not self._reached:
                return "unknown"
            return "standby"

    def last_renew(self) -> float | None:
        """Monotonic time at which the last successful acquire/renew started (None: never)."""
        with self._lock:
            return self._renewed_at

    def run_once(self) -> bool:
        """One round of client-go's tryAcquireOrRenew, then the callbacks. True if this process
        holds the Lease after a write in this round."""
        started = self._clock()
        try:
            ok = self._try_acquire_or_renew(started)
        except _Unreachable as exc:
            self._api_failed(str(exc))
            ok = False
        else:
            self._api_answered()
        if ok:
            with self._lock:
                self._renewed_at = started
        self._report()
        return ok

    # --- the round (client-go leaderelection.go: tryAcquireOrRenew) -----------------------------------
    def _try_acquire_or_renew(self, now: float) -> bool:
        timeout = self._request_timeout(now)
        stamp = micro_time(self._wall())
        record: dict[str, Any] = {"holderIdentity": self.identity, "leaseDurationSeconds": self._declared_seconds,
                                  "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}
        with self._lock:
            lease = self._lease
            observed = self._observed
            fast = lease is not None and self._holds(observed) and self._valid(observed, now)
        # 1. Fast path: the holder updates the Lease it last saw, assuming nobody wrote since.
        if fast:
            assert lease is not None and observed is not None
            body = {**lease, "spec": {**record, "acquireTime": _sendable(observed.get("acquireTime"), stamp),
                                      "leaseTransitions": int(observed.get("leaseTransitions") or 0)}}
            try:
                self._saw(self._replace(body, timeout), written=True)
                return True
            except ApiException as exc:  # 409: someone wrote since; 404: deleted. Read it again.
                log.debug("lease %s: optimistic renew failed (HTTP %s), reading it", self.describe, exc.status)
        # 2. Read the record, or create it.
        try:
            current = self._read(timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise _Unreachable(f"get: HTTP {exc.status} {exc.reason}") from None
            try:
                self._saw(self._create(record, timeout), written=True)
                return True
            except ApiException as exc2:
                if exc2.status == 409:  # AlreadyExists: another candidate created it first
                    log.debug("lease %s: another candidate created it first", self.describe)
                    return False
                raise _Unreachable(f"create: HTTP {exc2.status} {exc2.reason}") from None
        self._saw(current, written=False)
        spec = current.get("spec") or {}
        # 3. Held by someone else and not expired on our clock: stand by.
        with self._lock:
            ours = self._holds(spec)
            if spec.get("holderIdentity") and not ours and self._valid(spec, now):
                return False
        # 4. Renew what we hold (keep acquireTime and transitions), or take it over (one more transition).
        if ours:
            record["acquireTime"] = _sendable(spec.get("acquireTime"), stamp)
            record["leaseTransitions"] = int(spec.get("leaseTransitions") or 0)
        else:
            record["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        try:
            self._saw(self._replace({**current, "spec": record}, timeout), written=True)
        except ApiException as exc:
            if exc.status == 409:  # Conflict: someone else wrote between our read and our write
                log.debug("lease %s: conflict on update, someone else won this round", self.describe)
                return False
            raise _Unreachable(f"update: HTTP {exc.status} {exc.reason}") from None
        if not ours:
            log.info("lease %s: %s took over from %r (transition %d)", self.describe, self.identity,
                     spec.get("holderIdentity") or "", record["leaseTransitions"])
        return True

    def _holds(self, spec: dict[str, Any] | None) -> bool:
        return bool(spec) and (spec or {}).get("holderIdentity") == self.identity

    def _valid(self, spec: dict[str, Any] | None, now: float) -> bool:
        """client-go isLeaseValid: observedTime + the record's leaseDurationSeconds is after now.
        The record holds whole seconds; when it says what this replica declares itself
        (ceil(lease_duration)), the configured duration is the precise one. Caller holds _lock."""
        seconds = float((spec or {}).get("leaseDurationSeconds") or 0)
        duration = self.config.lease_duration if seconds == self._declared_seconds else seconds
        return self._observed_at + duration > now

    def _is_leader_locked(self, now: float) -> bool:
        return (not self._stopping and self._renewed_at is not None and self._holds(self._observed)
                and now - self._renewed_at < self.config.renew_deadline)

    def _saw(self, lease: dict[str, Any], *, written: bool) -> None:
        """Remember a Lease read or written; the observed time moves only when the record changed
        (client-go compares the raw record) or when we wrote it (setObservedRecord)."""
        spec = lease.get("spec") or {}
        with self._lock:
            self._lease = lease
            if written or spec != self._observed:
                self._observed = spec
                self._observed_at = self._clock()
            if not self._holds(spec):
                self._renewed_at = None

    def _request_timeout(self, now: float) -> float:
        """A round never outlives the renew deadline (client-go bounds renew with a RenewDeadline context)."""
        with self._lock:
            renewed_at = self._renewed_at
        budget = self.config.renew_deadline
        if renewed_at is not None:
            budget -= now - renewed_at
        return max(0.1, budget)

    # --- API calls (raw JSON, so that what is compared and sent back is what the server said) -------------
    def _decode(self, response: Any) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], json.loads(response.data))
        except ValueError as exc:
            raise _Unreachable(f"undecodable answer: {exc}") from None
        finally:
            response.release_conn()

    def _request(self, what: str, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            return self._decode(call())
        except ApiException as exc:
            if exc.status in (404, 409):
                raise
            raise _Unreachable(f"{what}: HTTP {exc.status} {exc.reason}{_status_message(exc)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Unreachable(f"{what}: {type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # newer clients validate bodies and answers (pydantic)
            raise _Unreachable(f"{what}: {type(exc).__name__}: {exc}") from None

    def _read(self, timeout: float) -> dict[str, Any]:
        return self._request("get", lambda: self._api.read_namespaced_lease(
            self.config.name, self.config.namespace, _preload_content=False, _request_timeout=timeout))

    # Bodies are plain dicts (typed as Any): older clients send them as they are, newer ones validate them
    # into V1Lease first; either way the times are the MicroTime strings made above.
    def _create(self, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
        body: Any = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.config.name, "namespace": self.config.namespace}, "spec": spec}
        return self._request("create", lambda: self._api.create_namespaced_lease(
            self.config.namespace, body, _preload_content=False, _request_timeout=timeout))

    def _replace(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self._request("update", lambda: self._api.replace_namespaced_lease(
            self.config.name, self.config.namespace, cast(Any, body), _preload_content=False,
            _request_timeout=timeout))

    # --- bookkeeping ------------------------------------------------------------------------------------
    def _api_failed(self, detail: str) -> None:
        with self._lock:
            self._reached = False
            first, self._failing = not self._failing, True
        if first:
            log.warning("lease %s: API server error (%s); retrying every %.1fs", self.describe, detail,
                        self.config.retry_period)
        else:
            log.debug("lease %s: API server error (%s)", self.describe, detail)

    def _api_answered(self) -> None:
        with self._lock:
            self._reached = True
            recovered, self._failing = self._failing, False
        if recovered:
            log.info("lease %s: API server answers again", self.describe)

    def _report(self) -> None:
        """Call on_started/on_stopped_leading when is_leader() changed since the last report."""
        with self._lock:
            leading = self._is_leader_locked(self._clock())
            changed = leading != self._leading
            self._leading = leading
            holder = (self._observed or {}).get("holderIdentity") or None
        if not changed:
            return
        if leading:
            log.info("lease %s: %s started leading", self.describe, self.identity)
            self._callback(self._on_started)
        else:
            log.info("lease %s: %s stopped leading (holder now %r)", self.describe, self.identity, holder)
            self._callback(self._on_stopped)

    def _callback(self, fn: Callable[[], None] | None) -> None:
        if fn is None:
            return
        try:
            fn()
        except Exception:
            log.exception("lease %s: leadership callback failed", self.describe)

    # --- the thread ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._wake.is_set():
                try:
                    self.run_once()
                except Exception:  # a bug must not end the election silently (client-go: HandleCrash)
                    log.exception("lease %s: election round failed", self.describe)
                if self._wake.wait(self._next_delay()):
                    break
        finally:
            self._finish()

    def _next_delay(self) -> float:
        """Leading: renew every retry_period (client-go renew: wait.Until). Otherwise retry_period
        plus up to 1.2 times it at random (acquire: wait.JitterUntil)."""
        period = self.config.retry_period
        if self.is_leader():
            return period
        return period * (1.0 + self._jitter() * JITTER_FACTOR)

    def _finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            release = self._release_on_stop
        self._report()  # is_leader() is already False: on_stopped_leading before the Lease is handed back
        if release:
            self._release()

    def _release(self) -> None:
        """client-go tryRelease: re-read; if we still hold it, empty holder, 1 s, same transitions."""
        with self._lock:
            if not self._holds(self._observed):
                return
        timeout = min(self.config.renew_deadline, 2.0)
        for _ in range(RELEASE_ATTEMPTS):
            try:
                current = self._read(timeout)
                spec = current.get("spec") or {}
                if spec.get("holderIdentity") != self.identity:
                    return
                now = micro_time(self._wall())
                released = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now,
                            "leaseTransitions": int(spec.get("leaseTransitions") or 0)}
                self._saw(self._replace({**current, "spec": released}, timeout), written=True)
                log.info("lease %s: %s released it", self.describe, self.identity)
                return
            except ApiException as exc:
                if exc.status != 409:  # 404: nothing to release
                    return
            except _Unreachable as exc:
                log.warning("lease %s: could not release it (%s); it expires on its own", self.describe, exc)
                return
        log.warning("lease %s: could not release it (kept conflicting); it expires on its own", self.describe)
