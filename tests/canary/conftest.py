"""A canary world: real git, real Prometheus scraping the test exporter, the fake kube-apiserver
with Argo CD and Argo Rollouts simulators, the real adapters, an in-memory registry."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.kube import KubeCluster
from gitops_promoter.adapters.prometheus import PrometheusMetrics
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config import parse_config
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.runtime.wiring import drive
from gitops_promoter.workflows.reconcile import Ports
from tests.fakes import MemoryJournal, MemoryRegistry
from tests.support.argo_sim import ArgoCD, Rollouts
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import remote_file
from tests.support.world import ROLLOUT, config_text, deploy_remote, kubeconfig_for

IMAGE = "reg.local/acme/web"
APP, RO = "argocd/web-dev", "shop/web"


@dataclass
class World:
    root: Path
    remote: Path
    kube: FakeKube
    argocd: ArgoCD
    rollouts: Rollouts
    registry: MemoryRegistry
    config_text: str
    prometheus_url: str
    journal: MemoryJournal

    @property
    def config(self):
        return parse_config(self.config_text, source="promoter.yaml")

    def repo(self):
        return GitRepo(self.config.repositories["deploy"], workdir=self.root / "work", sleep=lambda s: None,
                       backoff=Backoff(base=0.001))

    def cluster(self):
        return KubeCluster(self.config.clusters["dev"], sleep=lambda s: None)

    def ports(self, *, metrics=None, clock=None):
        config = self.config
        prom = metrics or PrometheusMetrics(config.prometheus["main"], sleep=lambda s: None)
        extra = {"clock": clock} if clock else {}
        return Ports(registry=self.registry, repos={"deploy": self.repo()}, journal=self.journal,
                     clusters={"dev": self.cluster()}, metrics={"main": prom}, **extra)

    def run(self, *, metrics=None, force=None, mode="run"):
        """As `run --once` does (analyses driven to their end); with `force`, a person's decision."""
        config = self.config
        out = drive(config, self.ports(metrics=metrics), apps=config.apps, force=force, mode=mode)
        found = {}
        for o in out:  # discover's outcome first, then the canary's
            found.setdefault(f"{o.app}/{o.env}/{o.status}", o)
        return found

    def cluster_catches_up(self, seconds: float = 0.0):
        """Argo CD syncs the head; the Rollouts controller reconciles (and time passes); Argo CD sees
        the Rollout's health."""
        self.argocd.sync(APP)
        status = self.rollouts.tick(RO, seconds)["status"]
        self.argocd.observe(APP)
        return status

    def walk(self, *seconds: float):
        """Argo CD syncs, then the controller reconciles after each of these many seconds."""
        status = None
        for s in seconds:
            status = self.cluster_catches_up(s)
        return status

    def file(self) -> str:
        return remote_file(self.remote, ROLLOUT)


@pytest.fixture
def world(tmp_path, prometheus, exporter, unique):
    service = f"{unique}-canary"
    exporter.set(service, 0.0)
    remote = deploy_remote(tmp_path, image=IMAGE)
    with FakeKube() as kube:
        kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", kube.url)
        argocd = ArgoCD(kube, remote)
        argocd.add(APP, ROLLOUT)
        w = World(tmp_path, remote, kube, argocd, Rollouts(kube), MemoryRegistry(),
                  config_text(remote=remote, image=IMAGE, canary=(kubeconfig, prometheus.url, service)),
                  prometheus.url, MemoryJournal())
        w.registry.images[IMAGE] = [TagInfo("v1.0.0", digest="sha256:" + "1" * 64)]
        w.cluster_catches_up()  # v1.0.0 is live and stable
        prometheus.wait_for(f'http_requests_total{{service="{service}"}}')
        w.service = service
        w.exporter = exporter
        yield w
