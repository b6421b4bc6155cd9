"""The status page in a real browser, during a real scenario: the service as a process, Debian's
docker-registry notifying it, a real git remote, Debian's Prometheus, the fake kube-apiserver with
the Argo CD and Argo Rollouts simulators, and Debian's headless Chromium reading the page.

v1.1.0 is bumped and a person reverts it (rejected in dev); v1.2.0 is bumped and its canary
waits at gate 1, where the promoter's analysis is taking measurements. The page must show what
a person asks: what runs (tag, digest), where the canary is (step, weight), the gate's analysis
with a point per measurement, the rejected tag with why and how to lift it, the recent commits.
A screenshot is saved as test-artifacts/status-page.png (git-ignored); bench/results/status-page.png
is one recorded from it."""

import re
import shutil
import struct
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.support.argo_sim import ArgoCD, Rollouts
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import HumanClone, git, remote_file
from tests.support.net import eventually, free_port
from tests.support.registry import Pusher, RegistryServer
from tests.support.service import ROOT, ServiceProcess
from tests.support.world import ROLLOUT, config_text, deploy_remote, kubeconfig_for

SECRET = "hook-s3cret-51a7e0"
APP, RO = "argocd/web-dev", "shop/web"
SCREENSHOT = ROOT / "test-artifacts" / "status-page.png"  # a test artifact; never dirties the tree
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: `make debs` (or "
                                                         "`apt-get install -y chromium`) installs it")


class Seen(HTMLParser):
    """The text of a DOM as a person reads it (blocks on their own, no style or tooltips) and its
    elements."""

    INLINE = frozenset({"a", "span", "code", "b"})

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._hidden = 0
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._hidden += tag in ("style", "title")
        if tag not in self.INLINE:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("style", "title")
        if tag not in self.INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts))

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.elements if t == tag)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Debian's Chromium, headless, with its own profile (root needs --no-sandbox)."""
    return subprocess.run([str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.fixture
def world(tmp_path, unique, prometheus, exporter):
    port = free_port()
    registry = RegistryServer(notify=(f"http://127.0.0.1:{port}/hooks/registry", SECRET)).start()
    kube = FakeKube()
    kube.__enter__()
    service = None
    try:
        image = f"{registry.host}/{unique}/web"
        remote = deploy_remote(tmp_path, image=image)
        argocd = ArgoCD(kube, remote)
        argocd.add(APP, ROLLOUT)
        rollouts = Rollouts(kube)
        metric = f"{unique}-canary"
        exporter.set(metric, 0.0)  # every request answered 200: a success rate of 1
        kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", kube.url)
        text = config_text(remote=remote, image=image, registry_host=registry.host, registry_url=registry.url,
                           canary=(kubeconfig, prometheus.url, metric))
        # A long gate (600 measurements, one a second) that is still analysing when the page is read.
        text = text.replace("count: 3", "count: 600")
        text += ("  poll_interval: 1s\n  recheck_interval: 1s\n  journal: journal.sqlite\n  lock_timeout: 5s\n"
                 f"server:\n  listen: 127.0.0.1:{port}\n  registry_webhook_secret: env:PROMOTER_HOOK_SECRET\n")
        config = tmp_path / "promoter.yaml"
        config.write_text(text)
        push = Pusher(registry.url)
        push.image(f"{unique}/web", "v1.0.0")

        def catch_up(seconds: float = 0.0) -> dict:
            """Argo CD syncs git's head, the Rollouts controller runs `seconds` on, Argo CD looks."""
            argocd.sync(APP)
            status = rollouts.tick(RO, seconds)["status"]
            argocd.observe(APP)
            return status

        catch_up()  # v1.0.0 runs, stable
        prometheus.wait_for(f'http_requests_total{{service="{metric}"}}')
        service = ServiceProcess(config, port=port, secret=SECRET, log=tmp_path / "service.log")
        yield {"service": service, "push": lambda tag: push.image(f"{unique}/web", tag), "remote": remote,
               "root": tmp_path, "catch_up": catch_up}
    finally:
        if service is not None and service.running:
            service.kill()
        kube.__exit__(None, None, None)
        registry.stop()


def test_a_person_sees_the_release_its_canary_gate_and_the_rejected_tag(world):
    service, remote = world["service"], world["remote"]
    service.start()
    time.sleep(1.2)  # the first poll has seen v1.0.0

    # v1.1.0 is bumped, and a person reverts it: rejected in dev.
    world["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(remote, ROLLOUT), timeout=15), service.log_tail()
    person = HumanClone(remote, world["root"] / "person")
    git("-c", "user.name=Olive", "-c", "user.email=olive@acme.example", "revert", "--no-edit", "HEAD",
        cwd=person.path)
    git("push", "-q", "origin", "HEAD:main", cwd=person.path)
    reverted = git("rev-parse", "HEAD", cwd=person.path).strip()

    # v1.2.0 is bumped; Argo CD syncs it and the canary stops at gate 1 (step 1, weight 20%).
    world["push"]("v1.2.0")
    assert eventually(lambda: "web:v1.2.0" in remote_file(remote, ROLLOUT), timeout=15), service.log_tail()
    bump = git("rev-parse", "main", cwd=remote).strip()
    digest = git("log", "-1", "--format=%(trailers:key=Promoter-Digest,valueonly)", "main", cwd=remote).strip()
    assert digest.startswith("sha256:")
    for _ in range(12):
        status = world["catch_up"](10)
        if status.get("pauseConditions") and status.get("currentStepIndex") == 1:
            break
    else:
        raise AssertionError(f"the canary never paused at gate 1: {status}")

    # The service analyses gate 1, a measurement a second; the page shows it after each pass.
    def measured(n: int) -> bool:
        page = Seen(httpx.get(service.url + "/", timeout=5).text)
        found = re.search(r"success-rate: Running .*?(\d+) measurement\(s\)", page.text)
        return found is not None and int(found.group(1)) >= n

    assert eventually(lambda: measured(3), timeout=30, every=0.5), service.log_tail()

    # What Chromium shows.
    profile = world["root"] / "chromium"
    dumped = chromium("--dump-dom", service.url + "/", profile=profile)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Seen(dumped.stdout)
    text = dom.text
    expected = [
        "gitops-promoter", "web", "dev direct",
        f"Live v1.2.0 {digest.split(':')[0]}:{digest.split(':')[1][:12]} release {bump[:10]}",
        "Canary step 1 of 6 · weight 20% · Paused · waiting at a gate",
        "Gate gate 1: analysis Running",
        "success-rate: Running",
        "canary analysing: gate 1: success-rate: Running",
        "Rejected tags", "v1.1.0",
        f'reverted in {reverted[:10]} (Revert "promote(dev): web v1.0.0 → v1.1.0")',
        "gitops-promoter allow web dev v1.1.0",
        "Recent actions",
        f"{bump[:10]} bump v1.2.0 promote(dev): web v1.0.0 → v1.2.0",
        f"{reverted[:10]} reverted by a person",
        "bump v1.1.0 promote(dev): web v1.0.0 → v1.1.0",
        f"Roll back git revert --no-edit {bump[:12]}",
    ]
    missing = [s for s in expected if s not in text]
    assert not missing, f"not on the page: {missing}\n---\n{text}"
    taken = int(re.search(r"success-rate: Running .*?(\d+) measurement\(s\)", text).group(1))
    assert dom.count("circle") == taken >= 3  # one point per measurement
    assert '<meta http-equiv="refresh" content="10">' in dumped.stdout

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,900", service.url + "/", profile=profile)
    assert shot.returncode == 0 and SCREENSHOT.exists(), shot.stderr[-2000:]
    assert png_size(SCREENSHOT) == (1280, 900)
    assert SCREENSHOT.stat().st_size > 20_000  # a page, not a blank image

    assert service.stop() < 10
