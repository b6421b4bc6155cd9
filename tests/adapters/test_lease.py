"""Leader election through a coordination.k8s.io/v1 Lease: LeaseElector with the real kubernetes
client against the fake API server (held to the apiserver's Lease rules), in threads and in two
real processes. Durations are short (lease 1.5 s, renew deadline 1 s, retry 0.2 s)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_promoter.adapters.kube import api_client_for
from gitops_promoter.adapters.lease import JITTER_FACTOR, LeaseElector, micro_time, validate
from gitops_promoter.config.schema import ClusterConfig, LeaderElectionConfig, SecretRef
from gitops_promoter.errors import ConfigError
from tests.support.fake_kube import LEASES, FakeKube
from tests.support.world import kubeconfig_for

NS, NAME = "promoter", "gitops-promoter"
CFG = LeaderElectionConfig(cluster="dev", namespace=NS, name=NAME, lease_duration=1.5, renew_deadline=1.0,
                           retry_period=0.2)
POLL_MAX = CFG.retry_period * (1 + JITTER_FACTOR)  # the longest wait between a candidate's attempts
MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
DRIVER = Path(__file__).resolve().parents[1] / "support" / "lease_driver.py"


def wait_for(predicate, timeout: float, step: float = 0.005) -> float:
    """The monotonic time at which `predicate()` first held; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if predicate():
            return now
        assert now < deadline, f"not within {timeout}s"
        time.sleep(step)


def when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def server():
    with FakeKube() as fake:
        yield fake


@pytest.fixture
def kube(server):
    """One stand-in for the module (stopping one takes half a second), emptied for each test."""
    server.intercept = None
    server.objects.clear()
    yield server
    server.intercept = None


@pytest.fixture
def kubeconfig(kube, tmp_path):
    return kubeconfig_for(tmp_path / "kubeconfig", kube.url)


@pytest.fixture
def make(kubeconfig):
    """Electors with their own ApiClient, built from a kubeconfig as the service builds it; the
    client's User-Agent is the identity, so the fake server can cut one replica off."""
    made = []

    def build(identity: str, **kwargs) -> LeaseElector:
        api = api_client_for(ClusterConfig("dev", kubeconfig=SecretRef("file", str(kubeconfig), "test")))
        api.user_agent = identity
        elector = LeaseElector(CFG, api, identity=identity, **kwargs)
        made.append(elector)
        return elector

    yield build
    for elector in made:
        elector.stop(release=False, timeout=2)


def lease(kube) -> dict:
    return kube.get(LEASES, NS, NAME)


def put_lease(kube, spec: dict) -> dict:
    return kube.put(LEASES, {"metadata": {"name": NAME, "namespace": NS}, "spec": spec})


# --- one elector ------------------------------------------------------------------------------------------
def test_acquires_on_an_empty_server_and_renews_on_the_fast_path(kube, make):
    events = []
    a = make("a", on_started_leading=lambda: events.append("started"),
             on_stopped_leading=lambda: events.append("stopped"))
    assert (a.state(), a.is_leader(), a.leader_identity()) == ("unknown", False, None)
    before = time.time()
    a.start()
    wait_for(a.is_leader, 2)
    obj = lease(kube)
    spec = obj["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 2, 0)
    assert MICRO.fullmatch(spec["acquireTime"]) and MICRO.fullmatch(spec["renewTime"])
    assert before - 0.001 <= when(spec["acquireTime"]) <= when(spec["renewTime"]) <= time.time()
    assert obj["metadata"]["uid"] and "generation" not in obj["metadata"]
    assert (a.state(), a.leader_identity(), events) == ("leader", "a", ["started"])

    seen = len(kube.log)
    time.sleep(4 * CFG.retry_period)
    renewed = lease(kube)["spec"]
    assert when(renewed["renewTime"]) > when(spec["renewTime"])
    assert (renewed["acquireTime"], renewed["leaseTransitions"], renewed["holderIdentity"]) == \
        (spec["acquireTime"], 0, "a")
    renewals = kube.log[seen:]
    assert len(renewals) >= 3 and all(line.startswith("PUT ") for line in renewals), renewals  # no reads
    assert a.is_leader() and events == ["started"]


def test_stop_with_release_hands_the_lease_back_at_once(kube, make):
    events = []
    a = make("a", on_started_leading=lambda: events.append("started"),
             on_stopped_leading=lambda: events.append(("stopped", lease(kube)["spec"]["holderIdentity"])))
    a.start()
    wait_for(a.is_leader, 2)
    started = time.monotonic()
    assert a.stop(release=True)
    assert time.monotonic() - started < 1.0
    spec = lease(kube)["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("", 1, 0)
    assert MICRO.fullmatch(spec["renewTime"]) and spec["acquireTime"] == spec["renewTime"]
    # on_stopped_leading ran while the Lease was still held: the work stops before anyone can take over
    assert events == ["started", ("stopped", "a")]
    assert (a.is_leader(), a.state()) == (False, "unknown")


def test_stop_returns_quickly_without_release(kube, make):
    a = make("a")
    a.start()
    wait_for(a.is_leader, 2)
    started = time.monotonic()
    assert a.stop(release=False)
    assert time.monotonic() - started < 0.5
    assert lease(kube)["spec"]["holderIdentity"] == "a" and not a.is_leader()


# --- two electors -----------------------------------------------------------------------------------------
def test_standby_while_the_leader_renews_then_takes_over_on_release(kube, make):
    a, b = make("a"), make("b")
    a.start()
    wait_for(a.is_leader, 2)
    b.start()
    end = time.monotonic() + CFG.lease_duration + POLL_MAX  # longer than the Lease: only renewals keep it
    while time.monotonic() < end:
        assert a.is_leader() and not b.is_leader()
        time.sleep(0.01)
    assert (b.state(), b.leader_identity()) == ("standby", "a")
    assert lease(kube)["spec"]["leaseTransitions"] == 0

    released = time.monotonic()
    a.stop(release=True)
    took = wait_for(b.is_leader, 2) - released
    print(f"takeover after release: {took:.3f}s")
    assert took < 1.0, f"takeover after release took {took:.3f}s"  # one jittered retry period, no expiry
    spec = lease(kube)["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"], spec["leaseDurationSeconds"]) == ("b", 1, 2)


def test_takes_over_after_the_leader_dies_without_release(kube, make):
    a, b = make("a"), make("b")
    a.start()
    wait_for(a.is_leader, 2)
    b.start()
    wait_for(lambda: b.state() == "standby", 2)
    died = time.monotonic()
    a.stop(release=False)  # no more renewals, nothing handed back: a crash as far as the Lease can tell
    took = wait_for(b.is_leader, 2 * CFG.lease_duration) - died
    print(f"takeover after the leader died: {took:.3f}s")
    # b waits a full lease_duration from the last change it saw (at most one retry period before the crash,
    # plus its own polling), then at most one more jittered retry period.
    assert CFG.lease_duration - CFG.retry_period - 0.05 < took < CFG.lease_duration + 2 * POLL_MAX + 0.3, \
        f"takeover after the leader died took {took:.3f}s"
    spec = lease(kube)["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert when(spec["acquireTime"]) <= when(spec["renewTime"])


def test_a_leader_cut_off_from_the_server_steps_down_before_its_lease_can_expire(kube, make):
    stopped, started = [], []
    a = make("a", on_stopped_leading=lambda: stopped.append(time.monotonic()))
    b = make("b", on_started_leading=lambda: started.append(time.monotonic()))
    a.start()
    wait_for(a.is_leader, 2)
    b.start()
    wait_for(lambda: b.state() == "standby", 2)
    cut_off: set[str] = set()
    kube.intercept = lambda method, path, headers: "drop" if headers.get("User-Agent") in cut_off else None
    cut_off.add("a")
    cut = time.monotonic()
    while True:  # is_leader() never answers True renew_deadline after the last successful renew started
        asked = time.monotonic()
        if not a.is_leader():
            break
        assert asked - a.last_renew() < CFG.renew_deadline
        assert asked - cut < CFG.lease_duration, "still leading a lease_duration after it was cut off"
        time.sleep(0.005)
    last = a.last_renew()
    assert last is not None and a.state() == "unknown"
    wait_for(lambda: started, 2 * CFG.lease_duration)
    print(f"cut off: a stepped down {asked - last:.3f}s after its last renew started; b leads "
          f"{started[0] - last:.3f}s after it")
    assert started[0] > last + CFG.renew_deadline  # never two leaders: b starts after a's last possible moment
    assert stopped and stopped[0] - last < CFG.lease_duration  # a's service was told before b could lead
    cut_off.clear()
    wait_for(lambda: a.state() == "standby", 2)
    assert (a.leader_identity(), a.is_leader(), b.is_leader()) == ("b", False, True)


def test_a_conflicting_update_means_someone_else_won(kube, make):
    put_lease(kube, {"holderIdentity": "", "leaseDurationSeconds": 1, "leaseTransitions": 3,
                     "renewTime": micro_time(time.time()), "acquireTime": micro_time(time.time())})
    b = make("b")
    raced = []

    def other_writer(method, path, headers):
        if method == "PUT" and not raced:  # between b's read and b's update, c takes the released Lease
            raced.append(put_lease(kube, {"holderIdentity": "c", "leaseDurationSeconds": 2, "leaseTransitions": 4,
                                          "renewTime": micro_time(time.time()),
                                          "acquireTime": micro_time(time.time())}))
        return None

    kube.intercept = other_writer
    assert not b.run_once()
    assert raced and not b.is_leader() and lease(kube)["spec"]["holderIdentity"] == "c"
    assert not b.run_once()  # it reads c's fresh record and stands by
    assert (b.state(), b.leader_identity(), b.is_leader()) == ("standby", "c", False)
    assert lease(kube)["spec"]["leaseTransitions"] == 4


def test_a_create_that_finds_the_lease_already_there_means_someone_else_won(kube, make):
    b = make("b")
    raced = []

    def other_writer(method, path, headers):
        if method == "POST" and not raced:
            raced.append(put_lease(kube, {"holderIdentity": "c", "leaseDurationSeconds": 2, "leaseTransitions": 0,
                                          "renewTime": micro_time(time.time()),
                                          "acquireTime": micro_time(time.time())}))
        return None

    kube.intercept = other_writer
    assert not b.run_once() and raced and not b.is_leader()
    assert not b.run_once()
    assert (b.state(), b.leader_identity()) == ("standby", "c")


# --- on an injected clock: the exact boundaries -------------------------------------------------------------
def test_renew_deadline_on_the_monotonic_clock(kube, make):
    now = [100.0]
    events = []
    a = make("a", clock=lambda: now[0], on_started_leading=lambda: events.append("started"),
             on_stopped_leading=lambda: events.append("stopped"))
    assert a.run_once() and a.is_leader() and events == ["started"]
    acquired = lease(kube)["spec"]["acquireTime"]
    kube.intercept = lambda *_: "unavailable"  # 503 from here on
    now[0] = 100.0 + CFG.renew_deadline - 0.01
    assert not a.run_once()
    assert (a.is_leader(), a.state(), events) == (True, "leader", ["started"])  # still within the deadline
    now[0] = 100.0 + CFG.renew_deadline
    assert (a.is_leader(), a.state()) == (False, "unknown")  # at the deadline, before any round notices
    assert not a.run_once() and events == ["started", "stopped"]
    kube.intercept = None
    now[0] += 5
    assert a.run_once() and a.is_leader() and events == ["started", "stopped", "started"]
    spec = lease(kube)["spec"]  # nobody took it meanwhile: renewed, not re-acquired
    assert (spec["holderIdentity"], spec["acquireTime"], spec["leaseTransitions"]) == ("a", acquired, 0)


def test_expiry_counts_from_when_the_record_was_seen_to_change_not_from_its_renew_time(kube, make):
    long_ago = micro_time(time.time() - 3600)
    put_lease(kube, {"holderIdentity": "gone", "leaseDurationSeconds": 2, "leaseTransitions": 7,
                     "renewTime": long_ago, "acquireTime": long_ago})
    now = [0.0]
    b = make("b", clock=lambda: now[0])
    assert not b.run_once() and b.leader_identity() == "gone"  # first sight: a full lease duration to wait
    now[0] = CFG.lease_duration - 0.001  # the record says 2 s, which is what b declares itself: b's 1.5 s apply
    assert not b.run_once() and not b.is_leader()
    now[0] = CFG.lease_duration
    assert b.run_once() and b.is_leader()
    assert lease(kube)["spec"]["leaseTransitions"] == 8

    put_lease(kube, {"holderIdentity": "other", "leaseDurationSeconds": 5, "leaseTransitions": 9,
                     "renewTime": long_ago, "acquireTime": long_ago})
    assert not b.run_once() and not b.is_leader()  # another holder seen: b stops leading at once
    now[0] += 4.999  # a duration b does not declare itself is taken as written
    assert not b.run_once()
    now[0] += 0.001
    assert b.run_once() and lease(kube)["spec"]["leaseTransitions"] == 10


def test_configuration_is_checked_like_client_go():
    validate(CFG)
    with pytest.raises(ConfigError, match="lease_duration .* must be greater than renew_deadline"):
        validate(LeaderElectionConfig(cluster="dev", namespace=NS, lease_duration=10, renew_deadline=10))
    with pytest.raises(ConfigError, match=r"renew_deadline .* must be greater than 1.2 \* retry_period"):
        validate(LeaderElectionConfig(cluster="dev", namespace=NS, renew_deadline=2.0, retry_period=2.0))


def test_micro_time_always_has_six_digits():
    assert micro_time(1_700_000_000.25) == "2023-11-14T22:13:20.250000Z"
    assert micro_time(1_700_000_000.0) == "2023-11-14T22:13:20.000001Z"  # see micro_time's docstring


def test_default_identity_is_host_and_pid():
    elector = LeaseElector(CFG, client.ApiClient())
    assert elector.identity.endswith(f"_{os.getpid()}") and len(elector.identity) > len(str(os.getpid())) + 1


# --- the stand-in is as strict as the apiserver for Leases ----------------------------------------------------
def _status(exc: ApiException) -> tuple[int, str]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    return exc.status, body["reason"]


def _raw(kube, method: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(kube.url + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {kube.token}"} if kube.token else {})})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_lease_api_answers_like_the_apiserver(kube, kubeconfig):
    api = client.CoordinationV1Api(api_client_for(ClusterConfig("dev", kubeconfig=SecretRef(
        "file", str(kubeconfig), "test"))))
    spec = {"holderIdentity": "x", "leaseDurationSeconds": 3, "leaseTransitions": 0,
            "renewTime": "2024-05-01T10:00:00.123456+02:00", "acquireTime": "2024-05-01T08:00:00.5Z"}

    with pytest.raises(ApiException) as missing:
        api.read_namespaced_lease(NAME, NS)
    assert _status(missing.value) == (404, "NotFound")
    assert json.loads(missing.value.body)["message"] == f'leases.coordination.k8s.io "{NAME}" not found'

    created = api.create_namespaced_lease(NS, {"metadata": {"name": NAME}, "spec": spec})
    stored = lease(kube)
    assert stored["spec"]["renewTime"] == "2024-05-01T08:00:00.123456Z"  # written back as UTC, six digits
    assert stored["spec"]["acquireTime"] == "2024-05-01T08:00:00.500000Z"
    assert created.metadata.resource_version == stored["metadata"]["resourceVersion"]

    with pytest.raises(ApiException) as exists:
        api.create_namespaced_lease(NS, {"metadata": {"name": NAME}, "spec": spec})
    assert _status(exists.value) == (409, "AlreadyExists")

    no_version = {"metadata": {"name": NAME}, "spec": spec}
    with pytest.raises(ApiException) as unconditional:
        api.replace_namespaced_lease(NAME, NS, no_version)
    assert _status(unconditional.value) == (422, "Invalid")
    assert "metadata.resourceVersion" in json.loads(unconditional.value.body)["message"]

    current = lease(kube)
    api.replace_namespaced_lease(NAME, NS, {**current, "spec": {**spec, "holderIdentity": "y"}})
    with pytest.raises(ApiException) as stale:
        api.replace_namespaced_lease(NAME, NS, {**current, "spec": {**spec, "holderIdentity": "z"}})
    assert _status(stale.value) == (409, "Conflict")
    assert lease(kube)["spec"]["holderIdentity"] == "y"

    fresh = lease(kube)
    for bad, field in (({"leaseDurationSeconds": 0}, "spec.leaseDurationSeconds"),
                       ({"leaseTransitions": -1}, "spec.leaseTransitions"),
                       ({"preferredHolder": "p"}, "spec.preferredHolder")):
        with pytest.raises(ApiException) as invalid:
            api.replace_namespaced_lease(NAME, NS, {**fresh, "spec": {**spec, **bad}})
        assert _status(invalid.value) == (422, "Invalid")
        assert json.loads(invalid.value.body)["details"]["causes"][0]["field"] == field

    # MicroTime needs exactly six fraction digits; the client itself drops them when they are zero
    whole_second = {**spec, "renewTime": datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)}
    with pytest.raises(ApiException) as undecodable:
        api.replace_namespaced_lease(NAME, NS, {**fresh, "spec": whole_second})
    assert _status(undecodable.value) == (400, "BadRequest")
    assert 'cannot parse "+00:00" as ".000000"' in json.loads(undecodable.value.body)["message"]
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    spec = {**spec, "acquireTime": "2024-05-01T08:00:00.500000Z"}  # raw requests from here: valid as sent
    for text in ("2024-05-01T08:00:00Z", "2024-05-01T08:00:00.123Z", "yesterday"):
        code, status = _raw(kube, "PUT", f"{path}/{NAME}", {**fresh, "spec": {**spec, "renewTime": text}})
        assert (code, status["reason"]) == (400, "BadRequest"), text
    code, status = _raw(kube, "PUT", f"{path}/{NAME}", {**fresh, "spec": {**spec, "holderIdentity": 7}})
    assert (code, status["reason"]) == (400, "BadRequest")
    code, status = _raw(kube, "POST", path, {"metadata": {"name": "Not_A_Name"}, "spec": spec})
    assert (code, status["reason"]) == (422, "Invalid")
    code, status = _raw(kube, "PUT", f"{path}/other", {**fresh, "metadata": {**fresh["metadata"], "name": NAME}})
    assert (code, status["reason"]) == (400, "BadRequest")  # the name must match the URL

    # create-on-update: a PUT of a missing Lease creates it, unless it names a uid (a deleted object)
    code, made = _raw(kube, "PUT", f"{path}/fresh", {"metadata": {"name": "fresh"}, "spec": spec})
    assert code == 201 and made["metadata"]["uid"]
    api.delete_namespaced_lease("fresh", NS)
    code, status = _raw(kube, "PUT", f"{path}/fresh", made)
    assert (code, status["reason"]) == (409, "Conflict")


# --- two real processes -------------------------------------------------------------------------------------
class Driver:
    """tests/support/lease_driver.py in its own process; its state changes, as reported, in `events`."""

    def __init__(self, identity: str, kubeconfig: Path) -> None:
        self.identity = identity
        self.events: list[tuple[float, str]] = []
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), "--kubeconfig", str(kubeconfig), "--identity", identity,
             "--namespace", NS, "--name", NAME, "--lease-duration", str(CFG.lease_duration),
             "--renew-deadline", str(CFG.renew_deadline), "--retry-period", str(CFG.retry_period)],
            stdout=subprocess.PIPE, text=True, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.killed_at: float | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            self.events.append((event["t"], event["state"]))

    def leads_at(self, moment: float) -> bool:
        if self.killed_at is not None and moment >= self.killed_at:
            return False
        state = None
        for t, s in list(self.events):
            if t > moment:
                break
            state = s
        return state == "leader"

    def first(self, state: str, after: float = 0.0) -> float | None:
        return next((t for t, s in list(self.events) if s == state and t >= after), None)

    def kill(self) -> float:
        self.killed_at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)
        return self.killed_at

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def test_two_processes_one_leader_and_failover_after_sigkill(kube, kubeconfig):
    drivers = [Driver("replica-1", kubeconfig), Driver("replica-2", kubeconfig)]
    try:
        wait_for(lambda: any(d.first("leader") for d in drivers), 15, step=0.01)
        wait_for(lambda: all(d.first("standby") or d.first("leader") for d in drivers), 5, step=0.01)
        elected = min(d.first("leader") or float("inf") for d in drivers)
        time.sleep(CFG.lease_duration + POLL_MAX)  # longer than a Lease: the leader keeps it only by renewing
        leader = next(d for d in drivers if d.leads_at(time.monotonic()))
        other = next(d for d in drivers if d is not leader)
        assert other.events[-1][1] == "standby"

        killed = leader.kill()
        wait_for(lambda: other.first("leader", after=killed) is not None, 3 * CFG.lease_duration)
        took = other.first("leader", after=killed) - killed
        end = time.monotonic()
        # Every 2 ms from the first election to the end: never two leaders; exactly one while the first lived.
        moment = elected
        while moment < end:
            leading = [d.identity for d in drivers if d.leads_at(moment)]
            assert len(leading) <= 1, f"two leaders at {moment}: {leading}"
            if moment < killed:
                assert len(leading) == 1, f"no leader at {moment - elected:.3f}s after the election"
            moment += 0.002
        print(f"failover after SIGKILL of the leader: {took:.3f}s (lease {CFG.lease_duration}s, retry "
              f"{CFG.retry_period}s; bound lease + 2 * retry * (1 + {JITTER_FACTOR}) = "
              f"{CFG.lease_duration + 2 * POLL_MAX:.2f}s)")
        assert took < CFG.lease_duration + 2 * POLL_MAX + 0.3, f"failover after SIGKILL took {took:.3f}s"
        assert lease(kube)["spec"]["holderIdentity"] == other.identity
        assert lease(kube)["spec"]["leaseTransitions"] >= 1
    finally:
        for d in drivers:
            d.close()
