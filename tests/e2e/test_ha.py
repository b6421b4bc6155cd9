"""Two real service processes, one Lease (coordination.k8s.io/v1 on the kube-apiserver stand-in):
only the leader writes; when it is SIGKILLed the standby takes over within 15 s and carries on,
and no promotion is made twice."""

import time

import httpx
import pytest

from tests.support.fake_kube import LEASES as LEASE
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import remote_file, remote_log
from tests.support.net import eventually, free_port
from tests.support.registry import Pusher
from tests.support.service import ServiceProcess
from tests.support.world import ROLLOUT, config_text, deploy_remote, kubeconfig_for


def readiness(service):
    try:
        return httpx.get(f"{service.url}/readyz", timeout=1).text
    except httpx.HTTPError:
        return ""


@pytest.fixture
def pair(tmp_path, registry, unique):
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    push = Pusher(registry.url)
    push.image(f"{unique}/web", "v1.0.0")
    with FakeKube() as kube:
        kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", kube.url)
        services = []
        for name in ("a", "b"):
            port = free_port()
            text = config_text(registry_host=registry.host, registry_url=registry.url, remote=remote, image=image,
                               workdir=f"work-{name}")
            text = text.replace("repositories:\n", f"clusters:\n  - {{name: home, kubeconfig: 'file:{kubeconfig}'}}\n"
                                                   "repositories:\n", 1)
            text += (f"  poll_interval: 1s\n  journal: journal-{name}.sqlite\n"
                     f"server:\n  listen: 127.0.0.1:{port}\n"
                     "  leader_election: {cluster: home, namespace: promoter, name: gitops-promoter,\n"
                     f"                    lease_duration: 4s, renew_deadline: 3s, retry_period: 0.5s,\n"
                     f"                    identity: replica-{name}}}\n")
            config = tmp_path / f"promoter-{name}.yaml"
            config.write_text(text)
            services.append(ServiceProcess(config, port=port, secret="unused", log=tmp_path / f"{name}.log"))
        yield {"a": services[0], "b": services[1], "kube": kube, "remote": remote,
               "push": lambda tag: push.image(f"{unique}/web", tag)}
        for s in services:
            s.close()


def test_only_the_leader_writes_and_the_standby_takes_over_after_a_kill(pair):
    a, b, remote = pair["a"], pair["b"], pair["remote"]
    a.start()
    assert eventually(lambda: "leader" in readiness(a), timeout=10), a.log_tail()
    b.start()
    assert "standby" in readiness(b), b.log_tail()
    lease = pair["kube"].get(LEASE, "promoter", "gitops-promoter")
    assert lease["spec"]["holderIdentity"] == "replica-a"

    pair["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(remote, ROLLOUT), timeout=15), a.log_tail()
    time.sleep(2.5)  # both poll every second: the standby must not commit as well
    assert [s for s in remote_log(remote) if s.startswith("promote(")] == ["promote(dev): web v1.0.0 → v1.1.0"]
    assert "gitops_promoter_leader 0.0" in httpx.get(f"{b.url}/metrics").text

    killed = time.monotonic()
    a.kill()
    assert eventually(lambda: "leader" in readiness(b), timeout=15), b.log_tail()
    failover = time.monotonic() - killed
    assert failover < 15, failover
    print(f"failover after SIGKILL of the leader: {failover:.2f}s")
    assert pair["kube"].get(LEASE, "promoter", "gitops-promoter")["spec"]["holderIdentity"] == "replica-b"

    pair["push"]("v1.2.0")
    assert eventually(lambda: "web:v1.2.0" in remote_file(remote, ROLLOUT), timeout=15), b.log_tail()
    assert [s for s in remote_log(remote) if s.startswith("promote(")] == [
        "promote(dev): web v1.1.0 → v1.2.0", "promote(dev): web v1.0.0 → v1.1.0"]
    assert eventually(lambda: "gitops_promoter_leader 1.0" in httpx.get(f"{b.url}/metrics").text, timeout=3)
    b.stop()
